#include "runner/report_outputs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

#include "reports/json_report.h"
#include "reports/markdown.h"
#include "reports/sarif.h"

namespace cgfw::runner {
namespace {

bool write_text(const std::string& path, const std::string& text, bool append) {
  // O_NOFOLLOW: a symlink planted by a job that can write there is refused, not followed.
  int fd =
      ::open(path.c_str(),
             O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC), 0644);
  FILE* file = fd >= 0 ? ::fdopen(fd, append ? "a" : "w") : nullptr;
  if (fd >= 0 && !file) ::close(fd);
  bool ok = file && std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (file && std::fclose(file) != 0) ok = false;
  if (!ok) spdlog::error("cannot write {}: {}", path, std::strerror(errno));
  return ok;
}

bool write_json(const std::string& path, const nlohmann::json& document) {
  auto written = reports::write_json_file(path, document);
  if (!written) spdlog::error("{}", written.error().message);
  return written.ok();
}

const char* step_summary_path() {
  const char* path = std::getenv("GITHUB_STEP_SUMMARY");
  return path && *path ? path : nullptr;
}

}  // namespace

bool any_report_requested(const Options& options) {
  return options.report_json || options.report_sarif || options.report_md || step_summary_path();
}

bool write_reports(const Options& options, const nlohmann::json& report, bool final) {
  bool ok = true;
  if (options.report_json) ok &= write_json(*options.report_json, report);
  if (options.report_sarif)
    ok &= write_json(*options.report_sarif,
                     reports::make_sarif(report, reports::sarif_context_from_environment()));
  const char* step_summary = step_summary_path();
  // The job summary gets the run once, at its end (a `cgfw ctl report` would repeat it).
  bool to_step_summary = step_summary != nullptr && final;
  if (options.report_md || to_step_summary) {
    std::string markdown = reports::make_markdown(report);
    if (options.report_md) ok &= write_text(*options.report_md, markdown, false);
    // Appended: earlier steps' summaries stay.
    if (to_step_summary) ok &= write_text(step_summary, markdown + "\n", true);
  }
  return ok;
}

}  // namespace cgfw::runner
