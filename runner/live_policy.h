// Rule and mode changes while a run goes on (`cgfw ctl allow add ...`): the policy the proxies
// read, the kernel's tries and mode, and the learned addresses are brought to the new rules
// together, before the answer goes back. Changes apply to new connections (and to every UDP
// datagram); TCP connections already allowed keep going.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "policy/rule.h"
#include "proxy/dns/learned_table.h"
#include "runner/data_plane.h"

namespace cgfw::runner {

class LivePolicy {
 public:
  // Refuses a rule the run cannot enforce (a URL rule or, with --inspect, a name its CA cannot
  // sign for; a URL port not redirected to the web proxy): the reason, or "" when it can.
  using RuleCheck = std::function<std::string(const policy::Rule&)>;

  LivePolicy(policy::Policy& policy, DataPlane& plane, dns::LearnedTable& learned,
             RuleCheck check_rule)
      : policy_(policy), plane_(plane), learned_(learned), check_rule_(std::move(check_rule)) {}

  // Adds one rule (the --allow/--deny grammar). The answer says what is now in force.
  Result<std::string> add(policy::Effect effect, std::string_view text);
  // Deactivates the active rules of that effect written exactly `text` (from any source).
  Result<std::string> remove(policy::Effect effect, std::string_view text);
  // Audit (true) or block (false).
  Result<std::string> set_audit(bool audit);

 private:
  // Brings the kernel and the learned addresses to the policy; on failure the caller undoes
  // its change and calls it again.
  Status apply();
  // After a failed apply() whose policy change was reverted: re-applies the old rules, or, if
  // the kernel refuses that too, locks egress down (fail closed).
  Result<std::string> undo_failed_change(const std::string& why);

  policy::Policy& policy_;
  DataPlane& plane_;
  dns::LearnedTable& learned_;
  RuleCheck check_rule_;
  int added_ = 0;  // numbers "cgfw ctl #N" locations
};

}  // namespace cgfw::runner
