// One run of cgfw-sandbox, in order: policy, data plane, cgroup, watchdog, child, events, end.
#pragma once

#include "runner/options.h"

namespace cgfw::runner {

// Runs the sandbox and returns the process exit status (the command's, 128+signal, or 125-127).
int run_sandbox(const Options& options);

}  // namespace cgfw::runner
