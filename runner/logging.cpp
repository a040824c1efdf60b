#include "runner/logging.h"

#include <cstdarg>
#include <cstdio>
#include <string>

#include <bpf/libbpf.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace cgfw::runner {
namespace {

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  char buffer[1024];
  int n = std::vsnprintf(buffer, sizeof(buffer), format, args);
  if (n <= 0) return 0;
  std::string line(buffer);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  // libbpf's warnings include verifier logs on load failures: kept at debug, because the runner
  // turns a failure into one sentence of its own; -v shows the detail.
  switch (level) {
    case LIBBPF_WARN:
    case LIBBPF_INFO:
    case LIBBPF_DEBUG:
      spdlog::debug("libbpf: {}", line);
      break;
  }
  return n;
}

}  // namespace

void setup_logging(Verbosity verbosity) {
  auto logger = spdlog::stderr_logger_st("cgfw");
  logger->set_pattern("cgfw: %v");
  switch (verbosity) {
    case Verbosity::quiet:
      logger->set_level(spdlog::level::err);
      break;
    case Verbosity::normal:
      logger->set_level(spdlog::level::info);
      break;
    case Verbosity::verbose:
      logger->set_level(spdlog::level::debug);
      break;
  }
  spdlog::set_default_logger(logger);
  libbpf_set_print(libbpf_print);
}

}  // namespace cgfw::runner
