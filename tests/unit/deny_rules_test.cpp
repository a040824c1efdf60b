// Deny rules in every user-side layer that decides: the parser, the matchers, the kernel table
// builder, the TLS and HTTP decisions and the learned-address reconciliation after a change.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <map>

#include "policy/matcher.h"
#include "policy/parser.h"
#include "proxy/dns/learned_table.h"
#include "proxy/http/request_check.h"
#include "proxy/tls/tls_decision.h"
#include "runner/ip_allow_table.h"

namespace cgfw {
namespace {

// "allow" rules then "deny" rules, as load_policy appends them.
policy::Policy policy_of(const std::vector<std::string>& allow,
                         const std::vector<std::string>& deny) {
  policy::Policy policy;
  for (const auto& text : allow) policy::append_rules(policy, policy::parse_rule(text, "a").rules);
  for (const auto& text : deny) {
    auto parsed = policy::parse_rule(text, "d");
    policy::make_deny_rules(parsed);
    EXPECT_TRUE(parsed.errors.empty()) << text;
    policy::append_rules(policy, std::move(parsed.rules));
  }
  policy.default_allow = allow.empty() && !deny.empty();
  return policy;
}

std::array<std::uint8_t, 16> v4(const char* text) {
  std::array<std::uint8_t, 16> a{};
  inet_pton(AF_INET, text, a.data());
  return a;
}

TEST(DenyRules, ANameDenyRuleWithPortsIsAnErrorAndNothingIsKept) {
  auto parsed = policy::parse_rules("198.51.100.7:22 github.com:22 ok.example", "deny.txt");
  policy::make_deny_rules(parsed);
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.errors[0].where.to_string(), "deny.txt:1:17");
  EXPECT_NE(parsed.errors[0].why.find("denies it on every port"), std::string::npos);
  EXPECT_TRUE(parsed.rules.empty());
}

TEST(DenyRules, MatchersKeepAllowAndDenyApartAndSkipRemovedRules) {
  auto policy =
      policy_of({"*.example.com", "198.51.100.0/24"}, {"bad.example.com", "198.51.100.7"});
  EXPECT_EQ(policy::match_domain(policy, "bad.example.com")->text, "*.example.com");
  EXPECT_EQ(policy::denied_name(policy, "bad.example.com")->text, "bad.example.com");
  EXPECT_EQ(policy::denied_name(policy, "good.example.com"), nullptr);
  // Without ports a deny rule covers UDP too; an allow rule only TCP.
  EXPECT_NE(policy::denied_ip(policy, AF_INET, v4("198.51.100.7"), 53, policy::Transport::udp),
            nullptr);
  EXPECT_EQ(policy::match_ip(policy, AF_INET, v4("198.51.100.8"), 53, policy::Transport::udp),
            nullptr);
  EXPECT_EQ(policy::match_ip(policy, AF_INET, v4("198.51.100.7"), 80, policy::Transport::tcp)->text,
            "198.51.100.0/24");
  policy.rules[2].active = false;  // "bad.example.com" removed
  EXPECT_EQ(policy::denied_name(policy, "bad.example.com"), nullptr);
  policy.rules[0].active = false;
  EXPECT_EQ(policy::match_domain(policy, "good.example.com"), nullptr);
  EXPECT_TRUE(policy::rules_for_name(policy, "good.example.com").empty());
}

TEST(DenyRules, TheDenyTableCoversUdpWhenNoPortIsGivenAndIgnoresAllowRules) {
  auto policy = policy_of({"198.51.100.0/24:443"}, {"198.51.100.7", "203.0.113.0/24:22"});
  auto deny = runner::build_ip_table(policy, policy::Effect::deny);
  ASSERT_TRUE(deny);
  ASSERT_EQ(deny->size(), 2u);
  EXPECT_EQ((*deny)[0].prefix.to_string(), "198.51.100.7/32");
  ASSERT_EQ((*deny)[0].ports.count, 2u);
  EXPECT_EQ((*deny)[0].ports.ranges[1].transport, CGFW_TRANSPORT_UDP);
  EXPECT_EQ((*deny)[0].ports.ranges[0].rule_id, 1u);
  EXPECT_EQ((*deny)[1].ports.count, 1u);
  auto allow = runner::build_ip_allow_table(policy);
  ASSERT_TRUE(allow);
  ASSERT_EQ(allow->size(), 1u);
  policy.rules[0].active = false;
  EXPECT_TRUE(runner::build_ip_allow_table(policy)->empty());
}

tls::Destination to(const char* ip) {
  tls::Destination d;
  d.family = AF_INET;
  inet_pton(AF_INET, ip, d.address.data());
  d.port = 443;
  return d;
}

tls::ClientHello hello(const std::string& sni) {
  tls::ClientHello h;
  h.sni = sni;
  h.has_sni = !sni.empty();
  return h;
}

tls::TlsDecision decide(const policy::Policy& policy, const std::string& sni, const char* ip,
                        bool resolved = true, bool intercept = false) {
  return tls::decide_tls(
      policy, hello(sni), to(ip), [&](const std::string&) { return resolved; },
      [&](const std::string&) { return intercept; });
}

TEST(DenyRules, TlsDenyWinsByNameAndByAddressAndDefaultAllowPasses) {
  auto mixed = policy_of({"*.example.com", "198.51.100.0/24"}, {"bad.example.com", "198.51.100.7"});
  auto denied = decide(mixed, "bad.example.com", "198.51.100.20");
  EXPECT_EQ(denied.action, tls::TlsAction::block);
  EXPECT_EQ(denied.reason, "denied by the deny rule 'bad.example.com' (d:1:1)");
  EXPECT_TRUE(denied.suggested_rule.empty());
  EXPECT_EQ(decide(mixed, "good.example.com", "198.51.100.7").action, tls::TlsAction::block);
  EXPECT_EQ(decide(mixed, "", "198.51.100.7").action, tls::TlsAction::block);
  EXPECT_EQ(decide(mixed, "good.example.com", "198.51.100.20").action, tls::TlsAction::passthrough);

  auto deny_only = policy_of({}, {"bad.example.com", "https://git.example.com/secret/*"});
  EXPECT_EQ(decide(deny_only, "anything.test", "203.0.113.9", false).action,
            tls::TlsAction::passthrough);
  EXPECT_EQ(decide(deny_only, "", "203.0.113.9", false).action, tls::TlsAction::passthrough);
  EXPECT_EQ(decide(deny_only, "git.example.com", "203.0.113.9", false, true).action,
            tls::TlsAction::intercept);
  EXPECT_EQ(decide(deny_only, "bad.example.com", "203.0.113.9", false).action,
            tls::TlsAction::block);
}

http::RequestHead get(const std::string& target, const std::string& host) {
  http::RequestHead head;
  head.method = "GET";
  head.target = target;
  head.minor = 1;
  head.headers = {{"host", host}};
  return head;
}

TEST(DenyRules, DenyUrlRulesRefuseEitherSpellingOfThePath) {
  auto deny_only = policy_of({}, {"https://git.example.com/org/secret/*", "bad.example.com"});
  EXPECT_TRUE(http::host_has_deny_url_rules(deny_only, "git.example.com", "https", 443));
  EXPECT_FALSE(http::host_has_url_rules(deny_only, "git.example.com", "https", 443));
  auto check = [&](const std::string& target, const std::string& host = "git.example.com") {
    return http::check_request(deny_only, get(target, host), "https", host, 443);
  };
  EXPECT_TRUE(check("/org/public/x").allowed);
  EXPECT_FALSE(check("/org/secret/key").allowed);
  // As sent it is outside the denied path; normalized it is inside: refused.
  auto dotted = check("/org/public/../secret/key");
  EXPECT_FALSE(dotted.allowed);
  EXPECT_NE(dotted.reason.find("denied by the deny rule"), std::string::npos) << dotted.reason;
  EXPECT_FALSE(check("/", "bad.example.com").allowed);

  auto mixed =
      policy_of({"https://git.example.com/org/*"}, {"https://git.example.com/org/secret/*"});
  EXPECT_TRUE(
      http::check_request(mixed, get("/org/a", "git.example.com"), "https", "git.example.com", 443)
          .allowed);
  EXPECT_FALSE(http::check_request(mixed, get("/org/secret/a", "git.example.com"), "https",
                                   "git.example.com", 443)
                   .allowed);
}

TEST(DenyRules, DenyPathsCoverCaseTheDirectoryItselfAndGitsSpelling) {
  auto deny_only = policy_of({}, {"https://github.com/org/secret/*"});
  auto refused = [&](const std::string& target) {
    return !http::check_request(deny_only, get(target, "github.com"), "https", "github.com", 443)
                .allowed;
  };
  EXPECT_TRUE(refused("/org/secret/blob/main/key"));
  EXPECT_TRUE(refused("/Org/Secret/blob/main/key"));
  EXPECT_TRUE(refused("/org/secret"));
  EXPECT_TRUE(refused("/org/secret.git/info/refs?service=git-upload-pack"));
  EXPECT_FALSE(refused("/org/secretive"));
  EXPECT_FALSE(refused("/org/public"));

  auto parsed = policy::parse_rule("https://198.51.100.7/x/*", "d");
  policy::make_deny_rules(parsed);
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_NE(parsed.errors[0].why.find("needs a host name"), std::string::npos);
  auto plain = policy::parse_rule("http://198.51.100.7/x/*", "d");
  policy::make_deny_rules(plain);
  EXPECT_TRUE(plain.errors.empty()) << "plain HTTP names the path in the clear";
}

struct FakeKernel : dns::KernelAllowMap {
  std::map<std::pair<int, dns::Address>, cgfw_port_set> entries;
  Status put(int family, const dns::Address& address, const cgfw_port_set& ports) override {
    entries[{family, address}] = ports;
    return Ok{};
  }
  void remove(int family, const dns::Address& address) override {
    entries.erase({family, address});
  }
};

TEST(DenyRules, ReconcileDropsAddressesWhoseNamesLostTheirRuleOrWereDenied) {
  auto policy = policy_of({"a.example.com", "b.example.com:443", "b.example.com:80"}, {});
  FakeKernel kernel;
  dns::LearnedTable table(kernel);
  auto now = dns::LearnedTable::Clock::now();
  ASSERT_TRUE(table.learn(AF_INET, v4("198.51.100.1"), policy.rules[0], 60, "a.example.com", now));
  ASSERT_TRUE(table.learn(AF_INET, v4("198.51.100.2"), policy.rules[1], 60, "b.example.com", now));
  ASSERT_TRUE(table.learn(AF_INET, v4("198.51.100.2"), policy.rules[2], 60, "b.example.com", now));
  EXPECT_EQ(table.reconcile(policy), 0u);

  policy.rules[2].active = false;  // b loses :80
  EXPECT_EQ(table.reconcile(policy), 0u);
  EXPECT_EQ((kernel.entries[{AF_INET, v4("198.51.100.2")}].count), 1u);
  EXPECT_EQ((kernel.entries[{AF_INET, v4("198.51.100.2")}].ranges[0].first), 443);

  auto deny = policy::parse_rule("a.example.com", "ctl");
  policy::make_deny_rules(deny);
  policy::append_rules(policy, std::move(deny.rules));
  EXPECT_EQ(table.reconcile(policy), 1u);
  EXPECT_FALSE(kernel.entries.count({AF_INET, v4("198.51.100.1")}));
  EXPECT_FALSE(table.resolved_for(AF_INET, v4("198.51.100.1"), "a.example.com"));
  EXPECT_TRUE(table.resolved_for(AF_INET, v4("198.51.100.2"), "b.example.com"));

  // Learned through a CNAME chain: a deny rule for a target on the way takes it away.
  ASSERT_TRUE(table.learn(AF_INET, v4("198.51.100.3"), policy.rules[1], 60, "b.example.com", now,
                          {"edge.cdn.test"}));
  auto deny_target = policy::parse_rule("*.cdn.test", "ctl");
  policy::make_deny_rules(deny_target);
  policy::append_rules(policy, std::move(deny_target.rules));
  EXPECT_EQ(table.reconcile(policy), 1u);
  EXPECT_FALSE(kernel.entries.count({AF_INET, v4("198.51.100.3")}));
  EXPECT_TRUE(kernel.entries.count({AF_INET, v4("198.51.100.2")}));
}

}  // namespace
}  // namespace cgfw
