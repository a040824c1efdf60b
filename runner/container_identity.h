// Which container a process ran in, for the reports. A container is known by its cgroup: one the
// runtime's hook named (`cgfw container-hook` -> "container admit", with the id, name and image
// of the OCI state), or any cgroup below a followed runtime cgroup (--containers-cgroup), whose
// id is read from the cgroup's own name (runc's cgroupsPath, docker-ID.scope, libpod-ID.scope).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
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

  // The runtime's hook named the container in `cgroup_path`, whose kernel id is `cgroup_id`
  // (0: unknown).
  void name(const std::string& cgroup_path, reports::ContainerRef container,
            std::uint64_t cgroup_id = 0);
  // The container of a process in `cgroup_path`, if it is one's.
  std::optional<reports::ContainerRef> find(const std::string& cgroup_path) const;

  // The container of the cgroup the kernel calls `cgroup_id` (the id an event carries from the
  // moment of the socket call). `path_of` turns an id into a cgroup path; it is asked once per id
  // and the answer is kept, so events that arrive after their process has exited are still
  // attributed. An id `path_of` cannot resolve is not remembered.
  using CgroupPathOf = std::function<Result<std::string>(std::uint64_t)>;
  std::optional<reports::ContainerRef> find(std::uint64_t cgroup_id, const CgroupPathOf& path_of);

 private:
  std::vector<std::string> followed_;
  std::map<std::string, reports::ContainerRef> named_;  // cgroup path -> container
  // cgroup id -> its container (nullopt: the cgroup is no container's). Bounded.
  std::unordered_map<std::uint64_t, std::optional<reports::ContainerRef>> by_id_;
};

}  // namespace cgfw::runner
