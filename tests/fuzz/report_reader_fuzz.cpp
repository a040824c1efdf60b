// libFuzzer target: report file bytes -> what `cgfw report show`, `cgfw report sarif` and
// `cgfw policy suggest` do with them. parse_report is the tool's own gate (load_report without
// the file); whatever it accepts goes through make_markdown, make_sarif(...).dump(2) and
// suggest_policy, as the commands call them. A report may be edited or come from another job, so
// none of these may crash, throw, or leak; and suggest_policy's promise that every non-comment
// line it writes parses as a rule is checked.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/parser.h"
#include "reports/markdown.h"
#include "reports/policy_suggest.h"
#include "reports/report_view.h"
#include "reports/sarif.h"

namespace {

using nlohmann::json;
using namespace cgfw;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// Every non-comment line of a suggested allow list is one valid rule (policy_suggest.h).
void check_suggestion(const std::string& text) {
  check(text.starts_with("# cgfw allow list suggested by"));
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.starts_with("#")) continue;
    auto parsed = policy::parse_rules(line, "suggestion");
    check(parsed.errors.empty() && parsed.rules.size() == 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto report = reports::parse_report(text, why);
  if (!report) {
    check(!why.empty());
    return 0;
  }

  // cgfw report show
  (void)reports::make_markdown(*report);

  // cgfw report sarif: with the context of a GitHub job, and with none (no workflow file, no
  // checkout), which take different paths to a result's location. The source root is a
  // directory that does not exist, so relative allow files are never read from the fuzzer's cwd.
  reports::SarifContext github;
  github.workflow_ref = "octo/repo/.github/workflows/ci.yml@refs/heads/main";
  github.source_root = "/nonexistent/cgfw-fuzz/checkout/";
  github.category = "fuzz";
  (void)reports::make_sarif(*report, github).dump(2);
  (void)reports::make_sarif(*report, reports::SarifContext{}).dump(2);

  // cgfw policy suggest [--include-blocked] [--collapse-threshold N], one report and two merged.
  check_suggestion(reports::suggest_policy({*report}));
  reports::SuggestOptions options;
  options.include_blocked = true;
  options.collapse_threshold = 2;
  check_suggestion(reports::suggest_policy({*report, *report}, options));
  options.collapse_threshold = 0;
  check_suggestion(reports::suggest_policy({*report}, options));
  return 0;
}
