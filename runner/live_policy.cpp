#include "runner/live_policy.h"

#include "policy/parser.h"
#include "runner/ip_allow_table.h"

namespace cgfw::runner {
namespace {

const char* effect_name(policy::Effect effect) {
  return effect == policy::Effect::deny ? "deny" : "allow";
}

}  // namespace

Status LivePolicy::apply() {
  auto allow = build_ip_table(policy_, policy::Effect::allow);
  if (!allow) return allow.error();
  auto deny = build_ip_table(policy_, policy::Effect::deny);
  if (!deny) return deny.error();
  // Deny entries first: a change never opens more, even for a moment, than the two steps allow.
  if (auto filled = plane_.fill_ip_deny(*deny); !filled) return filled;
  if (auto filled = plane_.fill_ip_allow(*allow); !filled) return filled;
  learned_.reconcile(policy_);
  // UDP sockets remember their last allowed destination; it may be denied now.
  plane_.bump_generation();
  return Ok{};
}

Result<std::string> LivePolicy::undo_failed_change(const std::string& why) {
  if (auto undone = apply(); !undone) {
    // The kernel holds neither the old rules nor the new: it could allow what no rule does.
    plane_.lock_down();
    return make_error("the kernel refused the change (" + why + ") and then its undoing (" +
                      undone.error().message +
                      "): egress is locked down (nothing but loopback leaves) until the run ends");
  }
  return make_error("the kernel refused the change, which was undone: " + why);
}

Result<std::string> LivePolicy::add(policy::Effect effect, std::string_view text) {
  if (effect == policy::Effect::allow && policy_.default_allow)
    return make_error(
        "this run allows everything its deny rules do not name (it started with deny rules "
        "only): an allow rule would change nothing; remove a deny rule instead");
  auto parsed = policy::parse_rule(text, std::string("cgfw ctl #") + std::to_string(added_ + 1));
  if (effect == policy::Effect::deny) policy::make_deny_rules(parsed);
  if (!parsed.errors.empty()) return make_error(parsed.errors.front().to_string());
  policy::Rule& rule = parsed.rules.front();
  for (const auto& existing : policy_.rules)
    if (policy::in_force(existing, effect) && existing.text == rule.text)
      return make_error(std::string("the ") + effect_name(effect) + " rule '" + rule.text +
                        "' is in force already (" + existing.where.to_string() + ")");
  if (effect == policy::Effect::allow && check_rule_) {
    if (std::string why = check_rule_(rule); !why.empty())
      return make_error("'" + rule.text + "' cannot be enforced by this run: " + why);
  }
  ++added_;
  std::string added_text = rule.text;
  std::string where = rule.where.to_string();
  policy::append_rules(policy_, std::move(parsed.rules));
  if (auto applied = apply(); !applied) {
    policy_.rules.back().active = false;
    return undo_failed_change(applied.error().message);
  }
  return std::string(effect_name(effect)) + " rule '" + added_text + "' added (" + where +
         "); it applies to new connections";
}

Result<std::string> LivePolicy::remove(policy::Effect effect, std::string_view text) {
  auto parsed = policy::parse_rule(text, "cgfw ctl");
  if (!parsed.errors.empty()) return make_error(parsed.errors.front().to_string());
  const std::string& wanted = parsed.rules.front().text;
  std::vector<policy::Rule*> removed;
  for (auto& rule : policy_.rules) {
    if (policy::in_force(rule, effect) && rule.text == wanted) {
      rule.active = false;
      removed.push_back(&rule);
    }
  }
  if (removed.empty())
    return make_error(std::string("no ") + effect_name(effect) + " rule '" + wanted +
                      "' is in force (rules must be written exactly as listed by `cgfw ctl "
                      "status`)");
  if (auto applied = apply(); !applied) {
    for (auto* rule : removed) rule->active = true;
    return undo_failed_change(applied.error().message);
  }
  std::string where;
  for (auto* rule : removed) where += (where.empty() ? "" : ", ") + rule->where.to_string();
  return std::string(effect_name(effect)) + " rule '" + wanted + "' removed (" + where +
         "); new connections no longer " + (effect == policy::Effect::deny ? "meet it" : "have it");
}

Result<std::string> LivePolicy::set_audit(bool audit) {
  if (auto set = plane_.set_mode(audit, policy_.default_allow); !set) return set.error();
  policy_.audit = audit;
  return std::string(audit ? "audit mode: nothing is refused from now on, what would be is recorded"
                           : "block mode: what the rules do not allow is refused from now on");
}

}  // namespace cgfw::runner
