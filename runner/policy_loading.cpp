#include "runner/policy_loading.h"

#include "policy/parser.h"

namespace cgfw::runner {

Result<policy::Policy> load_policy(const Options& options) {
  policy::Policy policy;
  std::vector<policy::ParseError> errors;
  auto take = [&](policy::ParseResult parsed, bool deny) {
    if (deny) policy::make_deny_rules(parsed);
    errors.insert(errors.end(), parsed.errors.begin(), parsed.errors.end());
    policy::append_rules(policy, std::move(parsed.rules));
  };
  for (std::size_t i = 0; i < options.allow_rules.size(); ++i)
    take(policy::parse_rule(options.allow_rules[i], "--allow #" + std::to_string(i + 1)), false);
  if (!options.allow_rules.empty()) policy.sources.push_back("--allow");
  for (const auto& file : options.allow_files) {
    take(policy::parse_file(file), false);
    policy.sources.push_back(file);
  }
  for (std::size_t i = 0; i < options.deny_rules.size(); ++i)
    take(policy::parse_rule(options.deny_rules[i], "--deny #" + std::to_string(i + 1)), true);
  if (!options.deny_rules.empty()) policy.sources.push_back("--deny");
  for (const auto& file : options.deny_files) {
    take(policy::parse_file(file), true);
    policy.sources.push_back(file + " (deny)");
  }
  if (!errors.empty()) {
    std::string message = "the rules have " + std::to_string(errors.size()) +
                          (errors.size() == 1 ? " error" : " errors") +
                          "; nothing was run (see docs/rules.md):";
    for (const auto& error : errors) message += "\n  " + error.to_string();
    return make_error(message);
  }
  const bool has_deny = !options.deny_rules.empty() || !options.deny_files.empty();
  const bool has_allow = !options.allow_rules.empty() || !options.allow_files.empty();
  policy.default_allow = has_deny && !has_allow;
  policy.audit = options.audit;
  return policy;
}

}  // namespace cgfw::runner
