// What `cgfw ctl` can ask of a run, answered from the run's state: status, rule and mode
// changes (through LivePolicy), reports now, stop. Every change, applied or refused, goes into
// the report's timeline and is announced on stderr.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "reports/journal.h"
#include "reports/json_report.h"
#include "runner/control_socket.h"
#include "runner/data_plane.h"
#include "runner/live_policy.h"

namespace cgfw::runner {

struct ControlContext {
  policy::Policy& policy;
  LivePolicy& live;
  const reports::Journal& journal;
  const DataPlane& plane;
  std::string target;  // the policed cgroup
  std::chrono::system_clock::time_point started_at;
  std::vector<reports::PolicyChange>& timeline;
  // Writes the reports the run was asked for; says which files.
  std::function<Result<std::string>()> write_reports;
  // Ends the run as SIGTERM would.
  std::function<void()> stop;
  // "container admit": a runtime's hook names a container's first process (argument: JSON).
  std::function<Result<std::string>(const std::string& argument)> admit_container;
};

// Answers a parsed request (control_request.h): status, or a change recorded in the timeline.
nlohmann::json handle_control_request(ControlContext& context, const ControlRequest& request,
                                      const ControlPeer& peer);

}  // namespace cgfw::runner
