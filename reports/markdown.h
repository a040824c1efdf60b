// The Markdown summary of a JSON report: for GITHUB_STEP_SUMMARY, pull-request comments and
// `cgfw report show` (it reads as plain text in a terminal too). See docs/reports.md.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cgfw::reports {

// A verdict line, the blocked (or, in audit mode, not-allowed) destinations with the rule line
// that would allow each, suspicious names, the allowed destinations with the rule that allowed
// each, the suggested rules as a ```text block, and the run's warnings.
std::string make_markdown(const nlohmann::json& report);

// Markdown table cell text: '|' and '`' escaped, line breaks folded.
std::string markdown_cell(std::string_view text);

}  // namespace cgfw::reports
