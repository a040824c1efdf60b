#include "runner/target_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/errno_text.h"
#include "runner/cgroup.h"
#include "runner/cgroup_path.h"

namespace cgfw::runner {
namespace {

constexpr int kMaxUnitSearchDepth = 6;

// Every directory named `name` below `dir`, to a bounded depth.
void find_directories(const std::string& dir, const std::string& name, int depth,
                      std::vector<std::string>& found) {
  if (depth > kMaxUnitSearchDepth) return;
  DIR* stream = ::opendir(dir.c_str());
  if (!stream) return;
  while (dirent* entry = ::readdir(stream)) {
    if (entry->d_type != DT_DIR) continue;
    std::string child = entry->d_name;
    if (child == "." || child == "..") continue;
    std::string path = dir + "/" + child;
    if (child == name) found.push_back(path);
    find_directories(path, name, depth + 1, found);
  }
  ::closedir(stream);
}

// `systemctl show -P ControlGroup UNIT`, run without a shell; "" when systemctl cannot answer.
std::string systemd_control_group(const std::string& unit) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {};
  pid_t child = ::fork();
  if (child < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return {};
  }
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);
    ::execlp("systemctl", "systemctl", "show", "-P", "ControlGroup", "--", unit.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(out[0], buffer, sizeof(buffer))) > 0 && text.size() < 65536)
    text.append(buffer, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return {};
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Result<TargetCgroup> open_target_cgroup(const std::string& mount, const std::string& path) {
  if (path.empty()) return make_error("no cgroup given");
  std::string joined = path[0] == '/' && cgroup_within(path, mount) ? path : mount + "/" + path;
  char resolved[PATH_MAX];
  if (!::realpath(joined.c_str(), resolved))
    return make_error("no cgroup " + joined + ": " + errno_text(errno));
  std::string real = resolved;
  if (!cgroup_within(real, mount))
    return make_error(joined + " is not under the cgroup2 hierarchy " + mount);
  if (real == mount)
    return make_error(
        "refusing to police the root cgroup " + mount +
        ": that is the whole machine, cgfw included; give the cgroup of the service or job");
  TargetCgroup target;
  target.path = real;
  target.fd = UniqueFd(::open(real.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!target.fd.valid())
    return make_error("cannot open the cgroup " + real + ": " + errno_text(errno));
  if (::faccessat(target.fd.get(), "cgroup.procs", F_OK, 0) != 0)
    return make_error(real + " is a directory but not a cgroup (it has no cgroup.procs)");
  struct stat st {};
  ::fstat(target.fd.get(), &st);  // a cgroup's id is its directory's inode number
  target.id = st.st_ino;
  return target;
}

Result<std::string> normalize_unit_name(const std::string& unit) {
  if (unit.empty() || unit.size() > 255) return make_error("bad unit name '" + unit + "'");
  for (char c : unit) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ':' || c == '_' || c == '.' || c == '\\' || c == '@' || c == '-';
    if (!ok)
      return make_error("bad unit name '" + unit +
                        "': systemd unit names use letters, digits and \":_.\\@-\" only");
  }
  if (unit[0] == '.' || unit.find("..") != std::string::npos)
    return make_error("bad unit name '" + unit + "'");
  for (const char* suffix : {".service", ".scope", ".slice"}) {
    std::string s = suffix;
    if (unit.size() > s.size() && unit.compare(unit.size() - s.size(), s.size(), s) == 0)
      return unit;
  }
  return unit + ".service";
}

Result<std::string> find_unit_cgroup(const std::string& mount, const std::string& unit) {
  auto name = normalize_unit_name(unit);
  if (!name) return make_error(name.error().message);
  if (::access("/run/systemd/system", F_OK) == 0) {
    std::string group = systemd_control_group(*name);
    if (group.empty())
      return make_error("systemd knows no running unit " + *name +
                        " (systemctl show -P ControlGroup gave nothing): is it started?");
    return mount + group;
  }
  std::vector<std::string> found;
  find_directories(mount, *name, 0, found);
  if (found.empty())
    return make_error("no cgroup named " + *name + " under " + mount +
                      " (systemd is not PID 1 here, so the hierarchy was searched): is the unit "
                      "running?");
  if (found.size() > 1) {
    std::string all;
    for (const auto& path : found) all += "\n  " + path;
    return make_error("several cgroups are named " + *name + "; give one with --cgroup:" + all);
  }
  return found[0];
}

Result<bool> leave_target_cgroup(const std::string& mount, const std::string& target) {
  auto own = cgroup_of_process(::getpid(), mount);
  if (!own) return make_error(own.error().message);
  char resolved[PATH_MAX];
  std::string mine = ::realpath(own->c_str(), resolved) ? std::string(resolved) : *own;
  if (!cgroup_within(mine, target)) return false;
  std::string procs = mount + "/cgroup.procs";
  FILE* file = std::fopen(procs.c_str(), "w");
  bool moved = file && std::fprintf(file, "%d\n", ::getpid()) > 0;
  if (file && std::fclose(file) != 0) moved = false;
  if (!moved)
    return make_error("cgfw runs inside " + target +
                      ", the cgroup it is to police, and cannot leave it (" + errno_text(errno) +
                      "): start it from outside");
  return true;
}

}  // namespace cgfw::runner
