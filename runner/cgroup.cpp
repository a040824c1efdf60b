#include "runner/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include "common/errno_text.h"

namespace cgfw::runner {
namespace {

bool write_at(int dir_fd, const char* file, const std::string& text) {
  UniqueFd fd(::openat(dir_fd, file, O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  return ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

// The pids in <dir>/cgroup.procs (this cgroup's own, not its children's).
std::vector<pid_t> read_procs(int dir_fd) {
  std::vector<pid_t> pids;
  UniqueFd fd(::openat(dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return pids;
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buffer, sizeof(buffer))) > 0) text.append(buffer, n);
  std::istringstream in(text);
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

// Kills processes by writing each pid of cgroup.procs: for kernels without cgroup.kill (< 5.14).
void kill_procs_one_by_one(int dir_fd) {
  for (pid_t pid : read_procs(dir_fd)) ::kill(pid, SIGKILL);
}

// The pids of <path>/cgroup.procs and of every child cgroup's, depth first.
std::vector<pid_t> procs_of_tree(const std::string& path) {
  std::vector<pid_t> pids;
  if (DIR* dir = ::opendir(path.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (entry->d_type == DT_DIR && name != "." && name != "..") {
        auto inner = procs_of_tree(path + "/" + name);
        pids.insert(pids.end(), inner.begin(), inner.end());
      }
    }
    ::closedir(dir);
  }
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) {
    auto own = read_procs(dir.get());
    pids.insert(pids.end(), own.begin(), own.end());
  }
  return pids;
}

// True if cgfw's egress program is still attached to the cgroup: its runner or watchdog holds
// the links, so the processes inside are guarded (a watchdog holding an attached job).
bool still_guarded(int dir_fd) {
  __u32 count = 0;
  return bpf_prog_query(dir_fd, BPF_CGROUP_INET_EGRESS, 0, nullptr, nullptr, &count) == 0 &&
         count > 0;
}

// rmdir of a cgroup fails while it has child cgroups (a job may create its own): depth first.
bool remove_cgroup_tree(const std::string& path) {
  if (DIR* dir = ::opendir(path.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (entry->d_type == DT_DIR && name != "." && name != "..")
        remove_cgroup_tree(path + "/" + name);
    }
    ::closedir(dir);
  }
  return ::rmdir(path.c_str()) == 0 || errno == ENOENT;
}

}  // namespace

// Reads cgroup.events.
int cgroup_populated(int dir_fd) {
  UniqueFd fd(::openat(dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return -1;
  char buffer[256];
  ssize_t n = ::read(fd.get(), buffer, sizeof(buffer) - 1);
  if (n <= 0) return -1;
  buffer[n] = '\0';
  const char* line = std::strstr(buffer, "populated ");
  if (!line) return -1;
  return line[10] == '1' ? 1 : 0;
}

Result<std::string> find_cgroup2_mount(const std::string& mounts_file) {
  std::ifstream in(mounts_file);
  if (!in) return make_error("cannot read " + mounts_file + ": " + errno_text(errno));
  std::string device, mount_point, type;
  std::string rest;
  while (in >> device >> mount_point >> type) {
    std::getline(in, rest);
    if (type == "cgroup2") return mount_point;
  }
  return make_error(
      "no cgroup2 filesystem is mounted (none in " + mounts_file +
      "); cgfw needs cgroup v2: mount it with 'mount -t cgroup2 none /sys/fs/cgroup/unified' "
      "or boot with systemd.unified_cgroup_hierarchy=1");
}

bool kill_cgroup_and_wait(int dir_fd, std::chrono::milliseconds limit) {
  if (cgroup_populated(dir_fd) == 0) return true;
  if (!write_at(dir_fd, "cgroup.kill", "1")) kill_procs_one_by_one(dir_fd);
  // cgroup.events signals POLLPRI on every change of "populated": wait for it, bounded.
  UniqueFd events(::openat(dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC));
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    int state = cgroup_populated(dir_fd);
    if (state == 0) return true;
    if (state < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (events.valid()) {
      pollfd p{events.get(), POLLPRI, 0};
      ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
    } else {
      ::usleep(10000);
    }
    kill_procs_one_by_one(dir_fd);  // also catches processes forked during the kill
  }
}

int sweep_stale_cgroups(const std::string& mount) {
  DIR* dir = ::opendir(mount.c_str());
  if (!dir) return 0;
  int swept = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.rfind(kCgroupPrefix, 0) != 0) continue;
    // cgfw-<runner pid>-<random>
    pid_t runner = static_cast<pid_t>(std::strtol(name.c_str() + 5, nullptr, 10));
    if (runner <= 0) continue;
    if (::kill(runner, 0) == 0 || errno != ESRCH) continue;  // its runner (or pid) is alive
    std::string path = mount + "/" + name;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid() || still_guarded(fd.get())) continue;
    if (kill_cgroup_and_wait(fd.get(), std::chrono::seconds(5)) && remove_cgroup_tree(path)) {
      spdlog::warn("removed the cgroup {} of an earlier run whose runner was killed", path);
      ++swept;
    }
  }
  ::closedir(dir);
  return swept;
}

bool wait_until_empty(int dir_fd) {
  UniqueFd events(::openat(dir_fd, "cgroup.events", O_RDONLY | O_CLOEXEC));
  while (true) {
    int state = cgroup_populated(dir_fd);
    if (state <= 0) return state == 0;
    pollfd p{events.get(), POLLPRI, 0};
    if (!events.valid() || ::poll(&p, 1, 1000) < 0) ::usleep(100000);
  }
}

Result<std::string> cgroup_of_process(pid_t pid, const std::string& mount) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  if (!in) return make_error("no process " + std::to_string(pid) + ": " + errno_text(errno));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) return mount + (line.size() > 4 ? line.substr(3) : "");
  return make_error("process " + std::to_string(pid) + " is in no cgroup v2 (no '0::' line in " +
                    "/proc/" + std::to_string(pid) + "/cgroup)");
}

UniqueFd open_cgroup_by_id(int any_cgroup_fd, std::uint64_t id) {
  // kernfs file handles: 8 bytes, the node id; the type is FILEID_KERNFS.
  constexpr int kFileIdKernfs = 0xfe;
  alignas(file_handle) unsigned char storage[sizeof(file_handle) + sizeof(id)] = {};
  auto* handle = reinterpret_cast<file_handle*>(storage);
  handle->handle_bytes = sizeof(id);
  handle->handle_type = kFileIdKernfs;
  std::memcpy(handle->f_handle, &id, sizeof(id));
  return UniqueFd(::open_by_handle_at(any_cgroup_fd, handle, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

Result<std::string> cgroup_path_of_id(const std::string& mount, std::uint64_t id) {
  UniqueFd mount_fd(::open(mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!mount_fd.valid()) return make_error("cannot open " + mount + ": " + errno_text(errno));
  UniqueFd dir = open_cgroup_by_id(mount_fd.get(), id);
  if (!dir.valid())
    return make_error("no cgroup with id " + std::to_string(id) + ": " + errno_text(errno));
  std::string link = "/proc/self/fd/" + std::to_string(dir.get());
  char path[4096];
  ssize_t length = ::readlink(link.c_str(), path, sizeof(path) - 1);
  if (length <= 0) return make_error("cannot read " + link + ": " + errno_text(errno));
  return std::string(path, static_cast<std::size_t>(length));
}

Result<std::unique_ptr<TransientCgroup>> TransientCgroup::make(const std::string& mount) {
  std::random_device random;
  std::ostringstream name;
  name << kCgroupPrefix << ::getpid() << '-' << std::hex << random();
  std::string path = mount + "/" + name.str();
  if (::mkdir(path.c_str(), 0755) != 0) {
    return make_error(
        "cannot create the cgroup " + path + ": " + errno_text(errno) +
        (errno == EACCES || errno == EPERM ? " (cgfw-sandbox must run as root)" : ""));
  }
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    int err = errno;
    ::rmdir(path.c_str());
    return make_error("cannot open the cgroup " + path + ": " + errno_text(err));
  }
  struct stat st {};
  ::fstat(dir.get(), &st);  // a cgroup's id is its directory's inode number
  return std::unique_ptr<TransientCgroup>(
      new TransientCgroup(std::move(path), std::move(dir), st.st_ino));
}

TransientCgroup::~TransientCgroup() {
  if (removed_) return;
  if (return_to_.empty())
    kill_all(std::chrono::seconds(5));
  else
    return_processes();
  if (!remove().ok()) spdlog::warn("could not remove the cgroup {}", path_);
}

bool TransientCgroup::kill_all(std::chrono::milliseconds limit) {
  return kill_cgroup_and_wait(dir_.get(), limit);
}

Status TransientCgroup::adopt(pid_t pid, const std::string& return_to) {
  return_to_ = return_to;
  if (!write_at(dir_.get(), "cgroup.procs", std::to_string(pid)))
    return make_error("cannot move process " + std::to_string(pid) + " into the cgroup " + path_ +
                      ": " + errno_text(errno));
  return Ok{};
}

int TransientCgroup::return_processes() {
  UniqueFd back(::open(return_to_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd root(
      ::open(path_.substr(0, path_.rfind('/')).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int stranded = 0;
  // A process may fork while others move: repeat until nothing is left (bounded).
  for (int round = 0; round < 10; ++round) {
    auto pids = procs_of_tree(path_);
    if (pids.empty()) return 0;
    stranded = 0;
    for (pid_t pid : pids) {
      std::string text = std::to_string(pid);
      if (!write_at(back.get(), "cgroup.procs", text) &&
          !write_at(root.get(), "cgroup.procs", text))
        ++stranded;
    }
  }
  return stranded;
}

Status TransientCgroup::remove() {
  if (removed_) return Ok{};
  if (!remove_cgroup_tree(path_))
    return make_error("cannot remove the cgroup " + path_ + ": " + errno_text(errno));
  removed_ = true;
  return Ok{};
}

}  // namespace cgfw::runner
