#include "runner/control_commands.h"

#include <unistd.h>

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

namespace cgfw::runner {
namespace {

using nlohmann::json;

constexpr std::size_t kTopDestinations = 10;

json rules_in_force(const policy::Policy& policy) {
  json rules = json::array();
  for (const auto& rule : policy.rules) {
    if (!rule.active) continue;
    rules.push_back({{"text", rule.text},
                     {"location", rule.where.to_string()},
                     {"effect", rule.effect == policy::Effect::deny ? "deny" : "allow"}});
  }
  return rules;
}

// The destinations seen most, by what a rule would name: the domain, else address:port.
json top_destinations(const reports::Journal& journal) {
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts;
  for (const auto& event : journal.events()) {
    std::string where = event.domain ? *event.domain
                        : event.path ? *event.path
                                     : event.ip + ":" + std::to_string(event.port);
    std::string decision = event.decision == reports::Decision::allowed
                               ? (event.would_block ? "would block" : "allowed")
                               : "blocked";
    counts[{where, decision}] += event.count;
  }
  std::vector<std::pair<std::uint64_t, std::pair<std::string, std::string>>> sorted;
  for (const auto& [key, count] : counts) sorted.push_back({count, key});
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  json top = json::array();
  for (std::size_t i = 0; i < sorted.size() && i < kTopDestinations; ++i)
    top.push_back({{"destination", sorted[i].second.first},
                   {"decision", sorted[i].second.second},
                   {"count", sorted[i].first}});
  return top;
}

json status(const ControlContext& context) {
  auto totals = context.journal.totals();
  json counters = json::object();
  for (const auto& [name, value] : named_counters(context.plane)) counters[name] = value;
  return {{"ok", true},
          {"message", "policing " + context.target},
          {"pid", ::getpid()},
          {"target", context.target},
          {"started_at", reports::iso8601(context.started_at)},
          {"mode", context.policy.audit ? "audit" : "block"},
          {"default", context.policy.default_allow ? "allow" : "block"},
          {"rules", rules_in_force(context.policy)},
          {"events",
           {{"allowed", totals.allowed},
            {"blocked", totals.blocked},
            {"would_block", totals.would_block}}},
          {"kernel", counters},
          {"top_destinations", top_destinations(context.journal)},
          {"changes", context.timeline.size()}};
}

Result<std::string> change(ControlContext& context, const std::string& command,
                           const std::string& argument) {
  if (command == "allow add") return context.live.add(policy::Effect::allow, argument);
  if (command == "allow remove") return context.live.remove(policy::Effect::allow, argument);
  if (command == "deny add") return context.live.add(policy::Effect::deny, argument);
  if (command == "deny remove") return context.live.remove(policy::Effect::deny, argument);
  if (command == "mode") {
    if (argument != "audit" && argument != "block")
      return make_error("the mode is 'audit' or 'block', not '" + argument + "'");
    return context.live.set_audit(argument == "audit");
  }
  if (command == "report") return context.write_reports();
  if (command == "container admit") return context.admit_container(argument);
  if (command == "stop") {
    context.stop();
    return std::string("stopping: the programs are detached and the reports written");
  }
  return make_error("unknown command '" + command + "'");  // parse_control_request lets none by
}

}  // namespace

json handle_control_request(ControlContext& context, const ControlRequest& request,
                            const ControlPeer& peer) {
  const std::string& command = request.command;
  const std::string& argument = request.argument;
  if (command == "status") return status(context);

  reports::PolicyChange entry;
  entry.time = std::chrono::system_clock::now();
  entry.action = command;
  entry.argument = argument;
  entry.by = peer.describe();
  auto result = change(context, command, argument);
  entry.applied = static_cast<bool>(result);
  entry.message = result ? *result : result.error().message;
  if (command != "report") {
    // The operator's change is news to whoever watches the run's output.
    if (entry.applied)
      spdlog::warn("cgfw ctl ({}): {}", entry.by, entry.message);
    else
      spdlog::warn("cgfw ctl ({}): refused '{}{}': {}", entry.by, command,
                   argument.empty() ? "" : " " + argument, entry.message);
  }
  context.timeline.push_back(entry);
  return {{"ok", entry.applied}, {"message", entry.message}};
}

}  // namespace cgfw::runner
