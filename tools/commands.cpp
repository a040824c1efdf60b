#include "tools/commands.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "policy/parser.h"
#include "reports/markdown.h"
#include "reports/report_view.h"

namespace cgfw::tools {

using nlohmann::json;

namespace {

// Writes `text` to `path`, or to stdout when `path` is empty or "-".
int emit(const std::string& text, const std::string& path) {
  if (path.empty() || path == "-") {
    std::cout << text;
    std::cout.flush();
    return std::cout ? kExitOk : kExitBadInput;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out << text;
  if (out) out.flush();
  if (!out) {
    std::cerr << "cgfw: cannot write " << path << ": " << std::strerror(errno) << "\n";
    return kExitBadInput;
  }
  return kExitOk;
}

}  // namespace

std::optional<json> load_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cgfw: cannot read the report " << path << ": " << std::strerror(errno) << "\n";
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    std::cerr << "cgfw: cannot read the report " << path << ": " << std::strerror(errno) << "\n";
    return std::nullopt;
  }
  std::string why;
  auto report = reports::parse_report(text, why);
  if (!report) std::cerr << "cgfw: " << path << ": " << why << "\n";
  return report;
}

int report_show(const std::string& report_path) {
  auto report = load_report(report_path);
  if (!report) return kExitBadInput;
  return emit(reports::make_markdown(*report), "");
}

int report_sarif(const std::string& report_path, const std::string& output_path,
                 const reports::SarifContext& context) {
  auto report = load_report(report_path);
  if (!report) return kExitBadInput;
  return emit(reports::make_sarif(*report, context).dump(2) + "\n", output_path);
}

int policy_suggest(const std::vector<std::string>& report_paths, const std::string& output_path,
                   const reports::SuggestOptions& options) {
  std::vector<json> reports;
  for (const auto& path : report_paths) {
    auto report = load_report(path);
    if (!report) return kExitBadInput;
    reports.push_back(std::move(*report));
  }
  return emit(reports::suggest_policy(reports, options), output_path);
}

int policy_check(const std::vector<std::string>& files) {
  std::size_t rules = 0;
  std::size_t errors = 0;
  for (const auto& file : files) {
    auto parsed = policy::parse_file(file);
    for (const auto& error : parsed.errors) std::cerr << error.to_string() << "\n";
    errors += parsed.errors.size();
    rules += parsed.rules.size();
  }
  if (errors > 0) {
    std::cerr << "cgfw: " << errors << (errors == 1 ? " error" : " errors") << "\n";
    return kExitRefused;
  }
  std::cout << "ok: " << rules << (rules == 1 ? " rule" : " rules") << "\n";
  return kExitOk;
}

}  // namespace cgfw::tools
