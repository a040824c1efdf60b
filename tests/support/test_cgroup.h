// A cgroup a test makes to stand for a service's (cgfw attach's target): created under the
// cgroup2 mount, emptied (cgroup.kill) and removed when the test ends.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/sandbox_process.h"

namespace cgfw::testing {

class TestCgroup {
 public:
  // "<mount>/cgfwtest-<name>-<pid>.service". Not "cgfw-": that prefix is cgfw's own (its sweep
  // parses a runner pid after it). `path()` is "" when there is no cgroup2 mount.
  explicit TestCgroup(const std::string& name) {
    std::string mount = cgroup2_mount();
    if (mount.empty()) return;
    path_ = mount + "/cgfwtest-" + name + std::to_string(::getpid()) + ".service";
    std::filesystem::create_directory(path_);
  }
  ~TestCgroup() {
    if (path_.empty()) return;
    std::ofstream(path_ + "/cgroup.kill") << "1" << std::endl;
    eventually([&] { return ::rmdir(path_.c_str()) == 0 || errno == ENOENT; },
               std::chrono::seconds(10));
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace cgfw::testing
