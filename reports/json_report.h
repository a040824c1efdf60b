// The JSON report (docs/report.md; schema: reports/schema/report.schema.json).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "policy/rule.h"
#include "reports/journal.h"

namespace cgfw::reports {

inline constexpr int kReportVersion = 1;

// A change made while the run went on (`cgfw ctl`), in the order made.
struct PolicyChange {
  std::chrono::system_clock::time_point time;
  std::string action;    // "allow add", "deny remove", "mode", "report", "stop"
  std::string argument;  // the rule or the mode; "" when none
  std::string by;        // who asked: "uid 0, pid 4242 (cgfw)"
  bool applied = false;
  std::string message;  // what it did, or why it was refused
};

struct RunInfo {
  std::string mode;  // "block" or "audit" (at the end; the timeline shows changes)
  std::vector<std::string> command;
  std::optional<int> exit_status;  // the command's exit code, when it exited
  std::optional<int> signal;       // the signal that killed it, when one did
  int cgfw_exit_status = 0;        // what cgfw-sandbox itself exits with
  std::chrono::system_clock::time_point started_at;
  std::chrono::system_clock::time_point ended_at;
  const policy::Policy* policy = nullptr;
  std::map<std::string, std::uint64_t> kernel_counters;
  std::vector<std::string> warnings;
  std::vector<PolicyChange> timeline;
};

nlohmann::json to_json(const Event& event);
nlohmann::json make_report(const RunInfo& run, const Journal& journal);

// Writes atomically (temp file + rename), mode 0644.
Status write_json_file(const std::string& path, const nlohmann::json& document);

std::string iso8601(std::chrono::system_clock::time_point time);

}  // namespace cgfw::reports
