// `cgfw attach`'s target: a cgroup cgfw did not create (a systemd unit's, a container's, any
// directory of the hierarchy), found by path, unit name or a process in it. cgfw attaches its
// programs there and, at the end, detaches them and leaves the processes and the cgroup as they
// were: nothing is moved, killed or removed.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {

struct TargetCgroup {
  std::string path;  // absolute, under the cgroup2 mount
  UniqueFd fd;       // the directory, O_RDONLY
  unsigned long long id = 0;
};

// Opens `path` (absolute, or relative to `mount`: "system.slice/deploy.service"). Refuses what is
// not a cgroup directory under `mount`, and the root of the hierarchy (that would police the
// whole machine, cgfw included).
Result<TargetCgroup> open_target_cgroup(const std::string& mount, const std::string& path);

// The cgroup of systemd unit `unit` ("deploy" means "deploy.service"). Where systemd runs, its
// own answer (`systemctl show -P ControlGroup`, i.e. D-Bus); elsewhere, the one directory of that
// name in the hierarchy. An error names what was looked for, and every match when several.
Result<std::string> find_unit_cgroup(const std::string& mount, const std::string& unit);

// A unit name as systemd writes it: "deploy" -> "deploy.service"; letters, digits and ":_.\@-"
// only. An error for anything else (a path, "..", an empty name).
Result<std::string> normalize_unit_name(const std::string& unit);

// cgfw must never be inside the cgroup it polices (its proxies' own traffic would be judged, and
// a lockdown would cut them off). When this process is in `target` or below it (started as the
// unit's ExecStartPre=, say), it moves itself to the root of the hierarchy, before it forks its
// watchdog. Returns whether it moved.
Result<bool> leave_target_cgroup(const std::string& mount, const std::string& target);

}  // namespace cgfw::runner
