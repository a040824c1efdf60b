// cgfw-sandbox: run a command with egress limited to an allow list.
#include <sys/prctl.h>

#include <string_view>
#include <variant>

#include "runner/logging.h"
#include "runner/options.h"
#include "runner/sandbox_init.h"
#include "runner/supervisor.h"

int main(int argc, char** argv) {
  // The sandbox's PID 1 is this same binary, run again under another name (sandbox_init.h).
  if (argc >= 2 && std::string_view(argv[0]) == cgfw::runner::kInitArgv0)
    cgfw::runner::run_sandbox_init(argv + 1);
  // Not dumpable: no core dump ever holds the run CA's key. (Root inside the sandbox is kept out
  // of cgfw's memory by the capability drop already: cgfw holds capabilities it lacks, so the
  // kernel refuses it ptrace and /proc/PID/mem.)
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  auto parsed = cgfw::runner::parse_options(argc, argv);
  if (auto* exit_status = std::get_if<int>(&parsed)) return *exit_status;
  const auto& options = std::get<cgfw::runner::Options>(parsed);
  cgfw::runner::setup_logging(options.verbosity);
  return cgfw::runner::run_sandbox(options);
}
