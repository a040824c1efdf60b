// The `cgfw` subcommands as functions returning the exit status (0 ok, 1 the answer is "no", 2 a
// file could not be read or is not what it should be). Messages go to stdout/stderr.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/policy_suggest.h"
#include "reports/sarif.h"

namespace cgfw::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitBadInput = 2;

// Reads and parses a JSON report; on failure prints "cgfw: FILE: WHY" and returns nullopt.
std::optional<nlohmann::json> load_report(const std::string& path);

// `cgfw report show REPORT`: the Markdown summary on stdout.
int report_show(const std::string& report_path);

// `cgfw report sarif REPORT [-o FILE]`: the SARIF log on stdout or into FILE.
int report_sarif(const std::string& report_path, const std::string& output_path,
                 const reports::SarifContext& context);

// `cgfw policy suggest REPORT...`: the suggested allow list on stdout or into FILE.
int policy_suggest(const std::vector<std::string>& report_paths, const std::string& output_path,
                   const reports::SuggestOptions& options);

// `cgfw policy check FILE...`: "ok: N rules", or every error as FILE:LINE:COLUMN and exit 1.
int policy_check(const std::vector<std::string>& files);

}  // namespace cgfw::tools
