// `cgfw attach --cgroup PATH | --unit NAME | --pid PID [cgfw-sandbox options]`: the operator's
// spelling of cgfw-sandbox's attach modes. One runner does the work: this translates the target
// options and executes cgfw-sandbox (the one installed next to cgfw, else the one on PATH).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cgfw::tools {

// cgfw-sandbox's arguments (without argv[0]) for `cgfw attach ARGS`, or an error message: exactly
// one of --cgroup, --unit and --pid; no command ("--").
struct AttachTranslation {
  std::vector<std::string> sandbox_args;
  std::string error;
};
AttachTranslation translate_attach(const std::vector<std::string>& args);

// Runs `cgfw attach`: returns only if cgfw-sandbox could not be executed (exit status 2).
int run_attach(const std::vector<std::string>& args, const char* argv0);

}  // namespace cgfw::tools
