// The run's directory: files the job may read (the CA trust bundle), gone when the run ends. It
// holds no secret: the CA key never leaves the runner's memory.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace cgfw::runner {

class RunDirectory {
 public:
  static constexpr const char* kBase = "/run/cgfw";
  // /run/cgfw/run-<pid>-<random> (or $TMPDIR when /run is not writable), mode 0755.
  static Result<std::unique_ptr<RunDirectory>> make();
  // Removes run directories under `base` whose runner (the pid in the name) is gone: a runner
  // killed outright never ran its destructor. Returns how many.
  static int sweep_stale(const std::string& base = kBase);
  ~RunDirectory();  // removes it and everything in it
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  explicit RunDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace cgfw::runner
