// Attach mode (--attach-pid): cgfw polices a process that is already running, and everything it
// starts from then on, by moving it into the sandbox cgroup. The GitHub Action's job mode uses it
// on the runner's worker, so that every later step of the job is policed.
//
// What attach mode cannot give: the process was not started by cgfw, so it keeps its
// capabilities and namespaces (no capability drop, no hidden daemon sockets). Its sockets opened
// before the move stay in their old cgroup (a socket belongs to the cgroup it was created in).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "runner/cgroup.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {

struct AttachedProcess {
  pid_t pid = 0;
  std::string original_cgroup;       // where it (and its descendants) go back at the end
  std::vector<std::string> command;  // its command line, for the report
  UniqueFd pidfd;                    // readable when it exits
};

// Moves `pid` (its whole thread group; not its existing children) into `cgroup`. Refuses cgfw's
// own pid: cgfw must never be inside the cgroup it polices (it starts outside it and stays so).
Result<AttachedProcess> attach_process(pid_t pid, TransientCgroup& cgroup,
                                       const std::string& mount);

// Writes `path` atomically (temporary file + rename), mode 0644: {"pid": cgfw's pid, "cgroup":
// the sandbox cgroup, "control_socket": `cgfw ctl`'s way in, "env": {NAME: VALUE} the variables
// later processes should get}.
Status write_ready_file(const std::string& path, const std::string& cgroup,
                        const std::string& control_socket,
                        const std::vector<std::string>& environment);

}  // namespace cgfw::runner
