// Which container a process ran in, for the reports. A container is known by its cgroup: one the
// runtime's hook named (`cgfw container-hook` -> "container admit", with the id, name and image
// of the OCI state), or any cgroup below a followed runtime cgroup (--containers-cgroup), whose
// id is read from the cgroup's own name (runc's cgroupsPath, docker-ID.scope, libpod-ID.scope).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "reports/event.h"

namespace cgfw::runner {

// The argument of "container admit": {"pid": N, "id": "...", "name": "...", "image": "..."}
// (name and image optional). Parsed defensively: it comes from another process.
struct ContainerAdmission {
  int pid = 0;
  reports::ContainerRef container;
};
Result<ContainerAdmission> parse_container_admission(std::string_view text);

// The container id a runtime put in a cgroup's last path component; "" for "/".
std::string container_id_from_cgroup(std::string_view cgroup_path);

class ContainerRegistry {
 public:
  // `followed`: runtime cgroups (paths below the cgroup2 mount, "/docker") whose every
  // descendant is a container.
  explicit ContainerRegistry(std::vector<std::string> followed) : followed_(std::move(followed)) {}

  // The runtime's hook named the container in `cgroup_path`.
  void name(const std::string& cgroup_path, reports::ContainerRef container);
  // The container of a process in `cgroup_path`, if it is one's.
  std::optional<reports::ContainerRef> find(const std::string& cgroup_path) const;

 private:
  std::vector<std::string> followed_;
  std::map<std::string, reports::ContainerRef> named_;  // cgroup path -> container
};

}  // namespace cgfw::runner
