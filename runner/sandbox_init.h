// PID 1 of the sandbox's PID namespace: starts the command, forwards signals to it, reaps every
// orphan, and ends with the command (which ends everything else in the namespace).
//
// A separate exec of cgfw-sandbox's own binary (argv[0] "cgfw-init"), so that no process in the
// sandbox holds a copy of the runner's memory (the CA key lives there).
#pragma once

namespace cgfw::runner {

inline constexpr const char* kInitArgv0 = "cgfw-init";
// Inherited descriptors: the command's exec error (an errno, or EOF once it runs), and the
// command's wait status, written when it ends.
inline constexpr int kInitErrorFd = 3;
inline constexpr int kInitStatusFd = 4;

// `command` is null-terminated. The environment is the command's.
[[noreturn]] void run_sandbox_init(char** command);

}  // namespace cgfw::runner
