// Containers whose runtime puts them in a slice shared with strangers (--containers-slice):
// dockerd's and podman's systemd cgroup driver create each container's docker-ID.scope or
// libpod-ID.scope in /system.slice, next to every system service. cgfw's programs cannot go on
// the slice (they would police every service), so each container scope created during the run
// gets them, and the slice gets a guard (bpf/slice_guard.h) that drops the packets of any child
// not classified yet: a container's first packet cannot leave before its programs are on.
//
// The children there at the start are exempt (not cgfw's); a child created later is followed if
// its name is a container scope's, exempt otherwise. A runtime hook (`cgfw container-hook`)
// follows its container's scope before the container's first instruction (follow()); without
// one, inotify finds the scope at once and its packets are dropped until it is followed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "common/result.h"
#include "runner/data_plane.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {

// Names of the scopes container runtimes' systemd drivers create (docker, podman, containerd,
// CRI-O).
bool is_container_scope_name(const std::string& name);

// The level of the cgroup directory `path` under `mount` (the root is 0, "MOUNT/system.slice"
// is 1), as the kernel counts it for bpf_skb_ancestor_cgroup_id().
std::uint32_t cgroup_level(const std::string& mount, const std::string& path);

class SliceFollower {
 public:
  using Warn = std::function<void(const std::string&)>;

  // `slice_path` is the slice's directory (under the cgroup2 mount). Watches it first, then
  // marks the children there now exempt, then attaches the guard.
  static Result<std::unique_ptr<SliceFollower>> start(asio::io_context& io,
                                                      const std::string& slice_path,
                                                      DataPlane& plane, Warn warn);
  SliceFollower(const SliceFollower&) = delete;
  SliceFollower& operator=(const SliceFollower&) = delete;
  ~SliceFollower();

  const std::string& path() const { return path_; }
  int fd() const { return slice_.get(); }

  // The child of the slice that holds the cgroup directory `cgroup` (a full path), if any.
  std::optional<std::string> child_of(const std::string& cgroup) const;
  // Follows the child `name` now (a runtime hook: before the container's first instruction),
  // whatever its name; one exempt so far is followed from now on.
  Status follow(const std::string& name);
  bool followed(const std::string& name) const { return followed_.count(name) != 0; }

  // The followed scopes in which a process still runs.
  std::vector<std::string> populated() const;
  // Kills what runs in the followed scopes `names` (as populated() gave them); returns those
  // still populated after `limit`.
  std::vector<std::string> stop(const std::vector<std::string>& names,
                                std::chrono::milliseconds limit);

 private:
  struct Scope {
    UniqueFd dir;
    CgroupLinks links;
    std::uint64_t id = 0;
  };

  SliceFollower(asio::io_context& io, std::string path, UniqueFd slice, UniqueFd inotify,
                DataPlane& plane, Warn warn);
  void wait_for_children();
  void read_events();
  // Classifies every child not classified yet (at start, and after an inotify overflow).
  void classify_all(bool at_start);
  void classify(const std::string& name);
  void exempt(const std::string& name);
  void forget(const std::string& name);

  std::string path_;
  UniqueFd slice_;
  DataPlane& plane_;
  Warn warn_;
  asio::posix::stream_descriptor inotify_;
  std::map<std::string, Scope> followed_;
  std::map<std::string, std::uint64_t> exempt_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace cgfw::runner
