#include "runner/container_slice.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/errno_text.h"
#include "runner/cgroup.h"
#include "runner/cgroup_path.h"

namespace cgfw::runner {
namespace {

// A child's id is its directory's inode number (what bpf_skb_ancestor_cgroup_id() returns).
std::optional<std::uint64_t> child_id(int slice_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(slice_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
    return std::nullopt;
  return static_cast<std::uint64_t>(st.st_ino);
}

}  // namespace

bool is_container_scope_name(const std::string& name) {
  for (const char* pattern :
       {"docker-*.scope", "libpod-*.scope", "cri-containerd-*.scope", "crio-*.scope"})
    if (::fnmatch(pattern, name.c_str(), FNM_PATHNAME) == 0) return true;
  return false;
}

std::uint32_t cgroup_level(const std::string& mount, const std::string& path) {
  std::string_view below(path);
  if (cgroup_within(below, mount)) below.remove_prefix(mount.size());
  std::uint32_t level = 0;
  bool in_component = false;
  for (char c : below) {
    if (c != '/' && !in_component) ++level;
    in_component = c != '/';
  }
  return level;
}

SliceFollower::SliceFollower(asio::io_context& io, std::string path, UniqueFd slice,
                             UniqueFd inotify, DataPlane& plane, Warn warn)
    : path_(std::move(path)),
      slice_(std::move(slice)),
      plane_(plane),
      warn_(std::move(warn)),
      inotify_(io, inotify.release()) {}

SliceFollower::~SliceFollower() {
  *alive_ = false;
  std::error_code ignored;
  inotify_.close(ignored);
}

Result<std::unique_ptr<SliceFollower>> SliceFollower::start(asio::io_context& io,
                                                            const std::string& slice_path,
                                                            DataPlane& plane, Warn warn) {
  UniqueFd slice(::open(slice_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!slice.valid())
    return make_error("--containers-slice: cannot open " + slice_path + ": " + errno_text(errno));
  UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify.valid())
    return make_error("--containers-slice: cannot watch " + slice_path +
                      " (inotify_init1): " + errno_text(errno));
  // Watched before the children are listed: none created meanwhile goes unseen.
  if (::inotify_add_watch(inotify.get(), slice_path.c_str(), IN_CREATE | IN_DELETE | IN_ONLYDIR) <
      0)
    return make_error("--containers-slice: cannot watch " + slice_path + ": " + errno_text(errno));
  std::unique_ptr<SliceFollower> follower(new SliceFollower(
      io, slice_path, std::move(slice), std::move(inotify), plane, std::move(warn)));
  follower->classify_all(true);
  if (auto guarded = plane.attach_slice_guard(follower->fd()); !guarded) return guarded.error();
  follower->wait_for_children();
  return follower;
}

std::optional<std::string> SliceFollower::child_of(const std::string& cgroup) const {
  if (!cgroup_below(cgroup, path_)) return std::nullopt;
  std::string rest = cgroup.substr(path_.size() + 1);
  return rest.substr(0, rest.find('/'));
}

Status SliceFollower::follow(const std::string& name) {
  if (followed_.count(name)) return Ok{};
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return make_error("not a child of the slice: " + name);
  UniqueFd dir(::openat(slice_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!dir.valid() || ::fstat(dir.get(), &st) != 0)
    return make_error("cannot open " + path_ + "/" + name + ": " + errno_text(errno));
  auto links = plane_.attach_scope(dir.get(), /*egress_by_guard=*/true);
  if (!links) return links.error();
  auto id = static_cast<std::uint64_t>(st.st_ino);
  // Marked only once the programs are on: until then the guard drops the scope's packets.
  if (auto marked = plane_.mark_slice_child(id, CGFW_SLICE_FOLLOWED); !marked)
    return marked.error();  // the links go with `links`
  exempt_.erase(name);
  followed_.emplace(name, Scope{std::move(dir), std::move(*links), id});
  spdlog::info("following the container scope {}/{}: it is policed like the job", path_, name);
  return Ok{};
}

void SliceFollower::classify(const std::string& name) {
  if (followed_.count(name) || exempt_.count(name)) return;
  if (is_container_scope_name(name)) {
    if (auto followed = follow(name); !followed)
      warn_("the container scope " + path_ + "/" + name + " could not be followed (" +
            followed.error().message + "): its traffic stays dropped by the slice guard");
    return;
  }
  exempt(name);
}

void SliceFollower::exempt(const std::string& name) {
  auto id = child_id(slice_.get(), name);
  if (!id) return;  // gone already, or not a directory
  if (auto marked = plane_.mark_slice_child(*id, CGFW_SLICE_EXEMPT); !marked) {
    warn_(path_ + "/" + name + " could not be exempted (" + marked.error().message +
          "): its traffic is dropped by the slice guard");
    return;
  }
  exempt_.emplace(name, *id);
}

void SliceFollower::classify_all(bool at_start) {
  UniqueFd listing(::openat(slice_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* dir = listing.valid() ? ::fdopendir(listing.release()) : nullptr;
  if (!dir) {
    warn_("cannot list " + path_ + ": " + errno_text(errno));
    return;
  }
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || followed_.count(name) || exempt_.count(name)) continue;
    if (at_start)
      exempt(name);  // there before the run: not the job's, whatever its name
    else
      classify(name);
  }
  ::closedir(dir);
}

void SliceFollower::forget(const std::string& name) {
  std::uint64_t id = 0;
  if (auto it = followed_.find(name); it != followed_.end()) {
    id = it->second.id;
    followed_.erase(it);
  } else if (auto exempt = exempt_.find(name); exempt != exempt_.end()) {
    id = exempt->second;
    exempt_.erase(exempt);
  }
  // Ids are never reused: the entry only takes room.
  if (id) plane_.unmark_slice_child(id);
}

void SliceFollower::read_events() {
  alignas(inotify_event) char buffer[16384];
  while (true) {
    ssize_t length = ::read(inotify_.native_handle(), buffer, sizeof(buffer));
    if (length <= 0) return;  // EAGAIN: all read
    for (ssize_t offset = 0; offset < length;) {
      auto* event = reinterpret_cast<inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        // Events were lost: whatever is there now and unknown is classified now.
        classify_all(false);
        continue;
      }
      if (!(event->mask & IN_ISDIR) || event->len == 0) continue;
      std::string name(event->name);
      if (event->mask & IN_CREATE) classify(name);
      if (event->mask & IN_DELETE) forget(name);
    }
  }
}

void SliceFollower::wait_for_children() {
  inotify_.async_wait(asio::posix::descriptor_base::wait_read,
                      [this, alive = alive_](std::error_code error) {
                        if (error || !*alive) return;
                        read_events();
                        wait_for_children();
                      });
}

std::vector<std::string> SliceFollower::populated() const {
  std::vector<std::string> names;
  for (const auto& [name, scope] : followed_)
    if (cgroup_populated(scope.dir.get()) > 0) names.push_back(name);
  return names;
}

std::vector<std::string> SliceFollower::stop(const std::vector<std::string>& names,
                                             std::chrono::milliseconds limit) {
  std::vector<std::string> outlived;
  for (const auto& name : names)
    if (auto scope = followed_.find(name);
        scope != followed_.end() && !kill_cgroup_and_wait(scope->second.dir.get(), limit))
      outlived.push_back(name);
  return outlived;
}

}  // namespace cgfw::runner
