// Reading small kernel-made text files (/proc/PID/cmdline, /proc/PID/net/route): one bounded
// plain read(2) loop, and nothing on error. Not an ifstream: a /proc file of a process that exits
// mid-read fails with ESRCH, which libstdc++'s filebuf turns into an exception even with
// exceptions disabled on the stream.
#pragma once

#include <string>

namespace cgfw::runner {

// The whole file, at most about 1 MiB; "" when it cannot be opened or read (a process that
// exited meanwhile).
std::string read_proc_file(const std::string& path);

}  // namespace cgfw::runner
