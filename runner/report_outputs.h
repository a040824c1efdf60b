// The run's reports, written from the one JSON report document: --report-json, --report-sarif,
// --report-md, and the GitHub step summary.
#pragma once

#include <nlohmann/json.hpp>

#include "runner/options.h"

namespace cgfw::runner {

// Writes every report asked for; false (after saying why on stderr) if one could not be written.
bool write_reports(const Options& options, const nlohmann::json& report);

}  // namespace cgfw::runner
