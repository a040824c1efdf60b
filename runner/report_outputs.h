// The run's reports, written from the one JSON report document: --report-json, --report-sarif,
// --report-md, and the GitHub step summary.
#pragma once

#include <nlohmann/json.hpp>

#include "runner/options.h"

namespace cgfw::runner {

// Whether any report is wanted: building the document costs time per distinct event, so a run
// that asked for none (and has no step summary) skips it.
bool any_report_requested(const Options& options);

// Writes every report asked for; false (after saying why on stderr) if one could not be written.
// `final`: the run is over (the step summary is written then only, once).
bool write_reports(const Options& options, const nlohmann::json& report, bool final = true);

}  // namespace cgfw::runner
