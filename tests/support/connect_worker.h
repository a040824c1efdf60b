// A "worker": a shell loop, started outside any sandbox, that connects every 100 ms to an
// allowed and to a blocked destination of the fake internet, for the attach tests.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/sandbox_process.h"

extern char** environ;

namespace cgfw::testing {

// A shell loop, started outside any sandbox, that tries both destinations every 100 ms (at most
// 60 s) and logs one line per attempt: "allowed OK ..." / "blocked REFUSED ...".
class Worker {
 public:
  explicit Worker(const std::string& log) : log_(log) {
    std::string probe = CGFW_ESCAPE_PROBE;
    std::string script =
        "for i in $(seq 600); do for target in allowed:198.51.100.10 "
        "blocked:198.51.100.11; do printf '%s ' ${target%%:*}; " +
        probe + " tcp-connect ${target#*:} 9000; done; sleep 0.1; done >" + log;
    const char* argv[] = {"sh", "-c", script.c_str(), nullptr};
    if (::posix_spawnp(&pid_, "sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
      throw std::runtime_error("cannot start the worker");
  }
  ~Worker() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  bool alive() const { return ::kill(pid_, 0) == 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Complete lines only: the last one may still be being written.
  std::vector<std::string> lines() const {
    std::ifstream in(log_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line) && !in.eof();) out.push_back(line);
    return out;
  }
  // The line index from which attempts are known to have started after this call: an attempt
  // whose line is still being written (its probe started, perhaps connected, before the call)
  // belongs before the mark.
  std::size_t mark() const {
    std::ifstream in(log_, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t count = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    return !text.empty() && text.back() != '\n' ? count + 1 : count;
  }
  // Waits (bounded) until `count` more attempts at `target` were logged after line `from`;
  // returns them.
  std::vector<std::string> next(const std::string& target, std::size_t from, std::size_t count) {
    std::vector<std::string> found;
    eventually(
        [&] {
          found.clear();
          auto all = lines();
          for (std::size_t i = from; i < all.size(); ++i)
            if (all[i].rfind(target + " ", 0) == 0) found.push_back(all[i]);
          return found.size() >= count;
        },
        std::chrono::seconds(20));
    return found;
  }
  // Moves the loop (and so every attempt it starts from now on) into the cgroup directory `dir`.
  bool move_to(const std::string& dir) const {
    std::ofstream procs(dir + "/cgroup.procs");
    procs << pid_ << std::endl;
    return static_cast<bool>(procs);
  }
  std::string cgroup() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/cgroup");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("0::", 0) == 0) return line;
    return "";
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace cgfw::testing
