// Live output: each blocked destination announced on stderr, in one line, the moment it is
// blocked — process, destination, layer, why, and the exact rule line that would allow it.
#pragma once

#include <cstdio>
#include <set>
#include <string>
#include <tuple>

#include "reports/event.h"

namespace cgfw::runner {

// The one-line announcement (without trailing newline).
std::string format_block_line(const reports::Event& event);

class Announcer {
 public:
  Announcer(bool quiet, std::FILE* out = stderr) : quiet_(quiet), out_(out) {}
  // Prints a line for a blocked event, once per (exe, destination, layer).
  void on_event(const reports::Event& event);

 private:
  bool quiet_;
  std::FILE* out_;
  std::set<std::tuple<std::string, std::string, int, std::string, int>> announced_;
};

}  // namespace cgfw::runner
