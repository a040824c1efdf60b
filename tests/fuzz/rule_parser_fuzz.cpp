// libFuzzer target: allow-file text -> parse_rules, then every matcher on what it produced.
// Whatever the bytes, the parser must return rules or errors — never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/matcher.h"
#include "policy/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = cgfw::policy::parse_rules(text, "fuzz.txt");
  for (const auto& error : parsed.errors) (void)error.to_string();
  cgfw::policy::Policy policy;
  cgfw::policy::append_rules(policy, parsed.rules);
  for (const auto& rule : policy.rules) {
    (void)rule.where.to_string();
    if (rule.prefix) (void)rule.prefix->to_string();
    (void)cgfw::policy::match_domain(policy, cgfw::policy::normalize_domain(rule.domain));
    std::array<std::uint8_t, 16> address{};
    if (rule.prefix) address = rule.prefix->address;
    (void)cgfw::policy::match_ip(policy, rule.prefix ? rule.prefix->family : 2, address, 443,
                                 cgfw::policy::Transport::tcp);
  }
  // The same text as deny rules, and the deny matchers on it.
  auto denied = cgfw::policy::parse_rules(text, "deny.txt");
  cgfw::policy::make_deny_rules(denied);
  cgfw::policy::append_rules(policy, denied.rules);
  for (const auto& rule : policy.rules) {
    (void)cgfw::policy::denied_name(policy, rule.domain);
    std::array<std::uint8_t, 16> address{};
    if (rule.prefix) address = rule.prefix->address;
    (void)cgfw::policy::denied_ip(policy, rule.prefix ? rule.prefix->family : 2, address, 53,
                                  cgfw::policy::Transport::udp);
  }
  (void)cgfw::policy::normalize_domain(text);
  (void)cgfw::policy::parse_rule(text, "--allow #1");
  return 0;
}
