#include "runner/isolation.h"

#include <glob.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace cgfw::runner {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_field(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      bool octal = true;
      for (std::size_t k = 1; k <= 3; ++k) {
        char c = field[i + k];
        if (c < '0' || c > '7') octal = false;
        value = value * 8 + (c - '0');
      }
      if (octal) {
        out += static_cast<char>(value);
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// Mount points by filesystem type, in mountinfo order, each once.
Result<std::map<std::string, std::vector<std::string>>> mounts_by_type(const std::string& file) {
  std::ifstream in(file);
  if (!in) return make_error("cannot read " + file + ": " + std::strerror(errno));
  std::map<std::string, std::vector<std::string>> mounts;
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount-point options [optional...] - type source super-options
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point, separator, type;
    if (!(fields >> id >> parent >> device >> root >> mount_point)) continue;
    while (fields >> separator && separator != "-") {
    }
    if (separator != "-" || !(fields >> type)) continue;
    auto& points = mounts[type];
    auto point = unescape_mount_field(mount_point);
    if (std::find(points.begin(), points.end(), point) == points.end()) points.push_back(point);
  }
  return mounts;
}

std::string real_path(const std::string& path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) ? std::string(resolved) : std::string();
}

std::vector<std::string> expand(const std::string& pattern) {
  if (pattern.find_first_of("*?[") == std::string::npos) return {pattern};
  std::vector<std::string> paths;
  glob_t matches{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches) == 0)
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  ::globfree(&matches);
  return paths;
}

unsigned long kept_mount_flags(const std::string& path) {
  struct statvfs info {};
  if (::statvfs(path.c_str(), &info) != 0) return 0;
  unsigned long flags = 0;
  if (info.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (info.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

}  // namespace

Result<IsolationPlan> plan_isolation(const std::vector<DeniedUnixSocket>& denied_sockets,
                                     const std::vector<std::string>& allowed_sockets,
                                     const std::vector<std::string>& read_only,
                                     const std::string& mountinfo) {
  auto mounts = mounts_by_type(mountinfo);
  if (!mounts) return make_error(mounts.error().message);
  IsolationPlan plan;
  plan.cgroup2_mounts = (*mounts)["cgroup2"];
  plan.proc_mounts = (*mounts)["proc"];
  plan.bpf_mounts = (*mounts)["bpf"];
  if (plan.cgroup2_mounts.empty()) return make_error("no cgroup2 filesystem in " + mountinfo);

  std::set<std::string> allowed;
  for (const auto& path : allowed_sockets)
    for (const auto& match : expand(path))
      if (auto real = real_path(match); !real.empty()) allowed.insert(real);
  std::set<std::string> masked;
  for (const auto& denied : denied_sockets) {
    for (const auto& path : expand(denied.path)) {
      struct stat info {};
      if (::stat(path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
      auto real = real_path(path);
      if (real.empty() || allowed.count(real) || !masked.insert(real).second) continue;
      plan.masked_sockets.push_back({real, denied.daemon});
    }
  }
  for (const auto& path : read_only) {
    auto real = real_path(path);
    if (real.empty()) continue;
    plan.read_only.push_back({real, kept_mount_flags(real)});
  }
  return plan;
}

IsolationFailure apply_isolation(const IsolationPlan& plan) {
  auto failed = [](const char* step, const char* path = "") {
    return IsolationFailure{errno, step, path};
  };
  // The cgroup namespace is rooted where the process is now: the sandbox cgroup. A cgroup
  // outside it cannot even be named, and the kernel refuses moves to or from it.
  if (::unshare(CLONE_NEWCGROUP) != 0) return failed("unshare(CLONE_NEWCGROUP)");
  // Mounts made here stay here.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    return failed("make / a slave mount", "/");
  // The kernel refuses cgroup2 (one superblock) on top of itself: the host's mount goes first.
  for (const auto& point : plan.cgroup2_mounts) {
    if (::umount2(point.c_str(), MNT_DETACH) != 0) return failed("unmount cgroup2", point.c_str());
    if (::mount("cgroup2", point.c_str(), "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
        0)
      return failed("mount cgroup2", point.c_str());
  }
  // /proc of the new PID namespace: processes outside (and their /proc/PID/root, which would
  // lead back into the host's mounts) are not there.
  for (const auto& point : plan.proc_mounts)
    if (::mount("proc", point.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      return failed("mount proc", point.c_str());
  // Pinned BPF objects of other tools: an empty, read-only directory instead.
  for (const auto& point : plan.bpf_mounts)
    if (::mount("none", point.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=4k,mode=0755") != 0)
      return failed("hide bpf filesystem", point.c_str());
  for (const auto& socket : plan.masked_sockets)
    if (::mount(socket.cover.c_str(), socket.path.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return failed("cover unix socket", socket.path.c_str());
  for (const auto& entry : plan.read_only) {
    if (::mount(entry.path.c_str(), entry.path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return failed("bind read-only path", entry.path.c_str());
    if (::mount(nullptr, entry.path.c_str(), nullptr,
                MS_BIND | MS_REMOUNT | MS_RDONLY | entry.flags, nullptr) != 0)
      return failed("make path read-only", entry.path.c_str());
  }
  return {};
}

}  // namespace cgfw::runner
