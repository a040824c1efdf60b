// cgfw-sandbox: run a command with egress limited to an allow list.
#include <variant>

#include "runner/logging.h"
#include "runner/options.h"
#include "runner/supervisor.h"

int main(int argc, char** argv) {
  auto parsed = cgfw::runner::parse_options(argc, argv);
  if (auto* exit_status = std::get_if<int>(&parsed)) return *exit_status;
  const auto& options = std::get<cgfw::runner::Options>(parsed);
  cgfw::runner::setup_logging(options.verbosity);
  return cgfw::runner::run_sandbox(options);
}
