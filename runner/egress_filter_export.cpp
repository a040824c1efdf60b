#include "runner/egress_filter_export.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include "common/errno_text.h"
#include "runner/data_plane.h"
#include "runner/ip_allow_table.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {
namespace {

namespace fs = std::filesystem;

// The program's name as the kernel keeps it (the skeleton's, at most 15 characters).
constexpr const char* kEgressProgramName = "cgfw_egress";

// /proc/mounts escapes blanks and backslashes in paths as \ooo.
std::string unescape_mount_field(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(digits, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

std::vector<fs::path> bpffs_mounts() {
  std::vector<fs::path> mounts;
  std::ifstream in("/proc/mounts");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string device, mount_point, type;
    if (fields >> device >> mount_point >> type && type == "bpf")
      mounts.push_back(fs::path(unescape_mount_field(mount_point)).lexically_normal());
  }
  return mounts;
}

// True when `path` lies strictly below `dir` (both absolute and normalized).
bool is_beneath(const fs::path& path, const fs::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d) {
    if (d->empty()) continue;  // the trailing "" of "/sys/fs/bpf/"
    if (p == path.end() || *p != *d) return false;
    ++p;
  }
  return p != path.end();
}

std::string joined(const std::vector<fs::path>& paths) {
  std::string out;
  for (const auto& path : paths) out += (out.empty() ? "" : ", ") + path.string();
  return out;
}

// Why a rule cannot be exported ("" when it can): names need the DNS proxy, URLs the web proxy.
std::string why_not_exportable(const policy::Rule& rule) {
  switch (rule.kind) {
    case policy::RuleKind::domain:
      return "is a domain rule: an exported egress filter holds IP rules only (no DNS proxy "
             "learns the addresses a name resolves to)";
    case policy::RuleKind::wildcard:
      return "is a wildcard rule: an exported egress filter holds IP rules only (no DNS proxy "
             "learns the addresses names resolve to)";
    case policy::RuleKind::url:
      return "is a URL rule: an exported egress filter holds IP rules only (no web proxy checks "
             "requests)";
    case policy::RuleKind::ip:
      break;
  }
  return "";
}

// Ok when every rule in force is an IP rule (allow or deny); else names the first that is not.
Status check_exportable(const policy::Policy& policy) {
  if (policy.audit)
    return make_error(
        "an exported egress filter cannot audit: nothing reads its events, so it would only "
        "let everything through unrecorded");
  for (const auto& rule : policy.rules) {
    if (!rule.active) continue;
    if (std::string why = why_not_exportable(rule); !why.empty())
      return make_error("cannot export '" + rule.text + "' (" + rule.where.to_string() + "): it " +
                        why +
                        "; allow its addresses instead, or police the unit with `cgfw attach "
                        "--unit`");
  }
  return Ok{};
}

// Where the pin goes: an absolute, normalized path strictly below a bpffs mount.
Result<fs::path> pin_location(const std::string& pin_path) {
  if (pin_path.empty()) return make_error("the pin path is empty");
  std::error_code error;
  fs::path path = fs::absolute(pin_path, error).lexically_normal();
  if (error) return make_error("bad pin path " + pin_path + ": " + error.message());
  if (!path.has_filename())
    return make_error(pin_path + " names a directory: give the path of the pin itself");
  auto mounts = bpffs_mounts();
  if (mounts.empty())
    return make_error(
        "no bpffs is mounted (/proc/mounts has no 'bpf' file system); systemd reads "
        "IPEgressFilterPath= from one: mount -t bpf bpf /sys/fs/bpf");
  for (const auto& mount : mounts) {
    if (path == mount || path / "" == mount)
      return make_error(path.string() + " is the bpffs mount itself: give a path below it");
    if (!is_beneath(path, mount)) continue;
    // bpffs refuses names with a dot (EPERM): "reserved for future extensions".
    if (path.lexically_relative(mount).string().find('.') != std::string::npos)
      return make_error(path.string() +
                        ": bpffs refuses '.' in names below its mount; choose a name without one");
    return path;
  }
  return make_error(path.string() + " is not on a bpffs mount (bpffs is mounted at " +
                    joined(mounts) +
                    "); a program can only be pinned there, and systemd's "
                    "IPEgressFilterPath= reads it from there");
}

bool on_bpffs(const fs::path& path) {
  struct statfs info {};
  return ::statfs(path.c_str(), &info) == 0 &&
         static_cast<unsigned long>(info.f_type) == static_cast<unsigned long>(BPF_FS_MAGIC);
}

// Ok when `path` is a pin of cgfw's egress program; else what it is instead.
Status check_cgfw_pin(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return make_error("nothing is pinned at " + path.string() + ": " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) return make_error(path.string() + " is a directory, not a pin");
  if (!on_bpffs(path)) return make_error(path.string() + " is not on bpffs: not a pin");
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid())
    return make_error("cannot open the pin " + path.string() + ": " + errno_text(errno));
  char target[64] = {};
  std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  ssize_t length = ::readlink(proc.c_str(), target, sizeof(target) - 1);
  std::string kind = length > 0 ? std::string(target, static_cast<std::size_t>(length)) : "";
  if (kind != "anon_inode:bpf-prog")
    return make_error(path.string() + " is not a cgfw egress filter (it pins " +
                      (kind.empty() ? std::string("an unknown object") : kind) + ")");
  bpf_prog_info info{};
  __u32 info_length = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &info_length) != 0)
    return make_error("cannot read the program pinned at " + path.string() + ": " +
                      errno_text(errno));
  if (info.type != BPF_PROG_TYPE_CGROUP_SKB || std::strcmp(info.name, kEgressProgramName) != 0)
    return make_error(path.string() + " is not a cgfw egress filter (it pins the program '" +
                      info.name + "' of type " + std::to_string(info.type) + ")");
  return Ok{};
}

// Pins `prog_fd` at `path`: directly when there must be no pin yet (the kernel refuses an
// existing name, race-free); else beside it and renamed over it, so the name never goes missing.
Status pin_program(int prog_fd, const fs::path& path, bool replace) {
  if (!replace) {
    int err = bpf_obj_pin(prog_fd, path.c_str());
    if (err == -EEXIST)
      return make_error(path.string() +
                        " exists already; re-export with --replace to replace it, or remove it");
    if (err)
      return make_error("cannot pin the program at " + path.string() + ": " + errno_text(err));
    return Ok{};
  }
  // No dot: bpffs refuses it in names.
  fs::path temporary = path.parent_path() / ("cgfw-replacing-" + std::to_string(::getpid()) + "-" +
                                             path.filename().string());
  ::unlink(temporary.c_str());
  if (int err = bpf_obj_pin(prog_fd, temporary.c_str()); err)
    return make_error("cannot pin the program at " + temporary.string() + ": " + errno_text(err));
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temporary.c_str());
    return make_error("cannot replace " + path.string() + ": " + errno_text(err));
  }
  return Ok{};
}

}  // namespace

Status export_egress_filter(const policy::Policy& policy, const std::string& pin_path,
                            bool replace) {
  if (auto exportable = check_exportable(policy); !exportable) return exportable;
  auto allow = build_ip_table(policy, policy::Effect::allow);
  if (!allow) return allow.error();
  auto deny = build_ip_table(policy, policy::Effect::deny);
  if (!deny) return deny.error();
  auto path = pin_location(pin_path);
  if (!path) return path.error();

  struct stat st {};
  if (::lstat(path->c_str(), &st) == 0) {
    if (!replace)
      return make_error(path->string() +
                        " exists already; re-export with --replace to replace it, or remove it");
    if (auto pinned = check_cgfw_pin(*path); !pinned)
      return make_error("not replacing it: " + pinned.error().message);
  }

  // No proxy ports: nothing is redirected and is_proxy() never matches. Loopback is allowed:
  // without cgfw's proxies there is nothing on loopback the rules would need to police, and
  // local services (the resolver stub among them) keep working. No learned addresses: a
  // one-slot map (the program still references it). The mode (default-allow for a policy of
  // deny rules only) lives in the control map, which the pinned program keeps.
  DataPlaneConfig config;
  config.audit_mode = false;
  config.default_allow = policy.default_allow;
  config.police_loopback = false;
  config.ip_entries = allow->size();
  config.deny_entries = deny->size();
  config.learned_entries = 1;
  config.police_devices = false;
  config.flow_entries = 64;  // nothing reads flows: the LRU maps would only hold ~22 MB
  auto plane = DataPlane::make(config);
  if (!plane) return plane.error();
  if (auto filled = (*plane)->fill_ip_allow(*allow); !filled) return filled.error();
  if (auto filled = (*plane)->fill_ip_deny(*deny); !filled) return filled.error();

  std::error_code error;
  fs::create_directories(path->parent_path(), error);
  if (error)
    return make_error("cannot create " + path->parent_path().string() + ": " + error.message());
  // The mount table said bpffs; a symlink on the way could still lead elsewhere.
  if (!on_bpffs(path->parent_path()))
    return make_error(path->parent_path().string() + " is not on bpffs (a symlink?)");
  if (auto pinned = pin_program((*plane)->egress_prog_fd(), *path, replace); !pinned) return pinned;
  spdlog::debug("egress filter with {} allow and {} deny prefixes pinned at {}", allow->size(),
                deny->size(), path->string());
  // The DataPlane goes now: the other programs and the skeleton are released; the pinned
  // program keeps the maps it uses (the allow tries among them) alive.
  return Ok{};
}

Status unexport_egress_filter(const std::string& pin_path) {
  if (pin_path.empty()) return make_error("the pin path is empty");
  fs::path path = fs::path(pin_path).lexically_normal();
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return make_error("no egress filter is pinned at " + path.string());
    return make_error("cannot look at " + path.string() + ": " + errno_text(errno));
  }
  if (auto pinned = check_cgfw_pin(path); !pinned)
    return make_error("not removing it: " + pinned.error().message);
  if (::unlink(path.c_str()) != 0)
    return make_error("cannot remove the pin " + path.string() + ": " + errno_text(errno));
  return Ok{};
}

}  // namespace cgfw::runner
