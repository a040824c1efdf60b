#include "runner/attach.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "runner/process_info.h"

namespace cgfw::runner {

Result<AttachedProcess> attach_process(pid_t pid, TransientCgroup& cgroup,
                                       const std::string& mount) {
  if (pid == ::getpid())
    return make_error("--attach-pid " + std::to_string(pid) +
                      " is cgfw itself: cgfw must never be inside the cgroup it polices");
  AttachedProcess attached;
  attached.pid = pid;
  // Before the move: a pid reused after this point is caught by the pidfd's exit instead.
  attached.pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!attached.pidfd.valid())
    return make_error("cannot attach to process " + std::to_string(pid) + ": " +
                      std::strerror(errno));
  auto original = cgroup_of_process(pid, mount);
  if (!original) return make_error(original.error().message);
  attached.original_cgroup = *original;
  attached.command = read_cmdline(pid);
  if (auto adopted = cgroup.adopt(pid, attached.original_cgroup); !adopted)
    return make_error(adopted.error().message);
  return attached;
}

Status write_ready_file(const std::string& path, const std::string& cgroup,
                        const std::string& control_socket,
                        const std::vector<std::string>& environment) {
  nlohmann::json env = nlohmann::json::object();
  for (const auto& assignment : environment) {
    auto equals = assignment.find('=');
    if (equals != std::string::npos)
      env[assignment.substr(0, equals)] = assignment.substr(equals + 1);
  }
  nlohmann::json ready = {
      {"pid", ::getpid()}, {"cgroup", cgroup}, {"control_socket", control_socket}, {"env", env}};
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << ready.dump(2) << '\n';
    if (!out) return make_error("cannot write the ready file " + temporary);
  }
  ::chmod(temporary.c_str(), 0644);
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    return make_error("cannot write the ready file " + path + ": " + std::strerror(errno));
  return Ok{};
}

}  // namespace cgfw::runner
