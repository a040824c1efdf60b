#include "proxy/tls/tls_decision.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <set>

#include "policy/parser.h"

namespace cgfw::tls {
namespace {

policy::Policy policy_of(const std::vector<std::string>& rules) {
  policy::Policy policy;
  for (const auto& text : rules) policy::append_rules(policy, policy::parse_rule(text, "t").rules);
  return policy;
}

Destination to(const char* ip, std::uint16_t port = 443) {
  Destination d;
  d.family = std::string(ip).find(':') != std::string::npos ? AF_INET6 : AF_INET;
  inet_pton(d.family, ip, d.address.data());
  d.port = port;
  return d;
}

ClientHello hello(const std::string& sni) {
  ClientHello h;
  h.sni = sni;
  h.has_sni = !sni.empty();
  return h;
}

struct Facts {
  std::set<std::string> resolved;     // names the destination was resolved for
  std::set<std::string> intercepted;  // names with URL rules
  TlsDecision decide(const policy::Policy& policy, const ClientHello& h, const Destination& d) {
    return decide_tls(
        policy, h, d, [&](const std::string& n) { return resolved.count(n) > 0; },
        [&](const std::string& n) { return intercepted.count(n) > 0; });
  }
};

TEST(TlsDecision, AllowedNameResolvedToThisAddressPassesThrough) {
  auto policy = policy_of({"*.allowed.test"});
  Facts facts{{"x.allowed.test"}, {}};
  auto d = facts.decide(policy, hello("x.allowed.test"), to("198.51.100.10"));
  EXPECT_EQ(d.action, TlsAction::passthrough);
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->text, "*.allowed.test");
}

TEST(TlsDecision, AllowedNameOnAnAddressNotResolvedForItIsDomainFronting) {
  auto policy = policy_of({"*.allowed.test"});
  Facts facts{{"evil.test"}, {}};
  auto d = facts.decide(policy, hello("x.allowed.test"), to("198.51.100.11"));
  EXPECT_EQ(d.action, TlsAction::block);
  EXPECT_NE(d.reason.find("domain fronting"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("198.51.100.11:443"), std::string::npos) << d.reason;
}

TEST(TlsDecision, NameNotAllowedIsBlockedWithTheRuleToAdd) {
  auto policy = policy_of({"*.allowed.test"});
  Facts facts{{"evil.test"}, {}};
  auto d = facts.decide(policy, hello("evil.test"), to("198.51.100.11"));
  EXPECT_EQ(d.action, TlsAction::block);
  EXPECT_EQ(d.reason, "no rule allows the server name 'evil.test'");
  EXPECT_EQ(d.suggested_rule, "evil.test");
}

TEST(TlsDecision, PortsOfTheDomainRuleApply) {
  auto policy = policy_of({"x.allowed.test:8443"});
  Facts facts{{"x.allowed.test"}, {}};
  EXPECT_EQ(facts.decide(policy, hello("x.allowed.test"), to("198.51.100.10", 8443)).action,
            TlsAction::passthrough);
  auto d = facts.decide(policy, hello("x.allowed.test"), to("198.51.100.10", 443));
  EXPECT_EQ(d.action, TlsAction::block);
  EXPECT_EQ(d.suggested_rule, "x.allowed.test:443");
}

TEST(TlsDecision, NoSniNeedsAnIpRule) {
  auto policy = policy_of({"198.51.100.10:443", "*.allowed.test"});
  Facts facts;
  EXPECT_EQ(facts.decide(policy, hello(""), to("198.51.100.10")).action, TlsAction::passthrough);
  auto d = facts.decide(policy, hello(""), to("198.51.100.11"));
  EXPECT_EQ(d.action, TlsAction::block);
  EXPECT_NE(d.reason.find("without a server name"), std::string::npos);
  EXPECT_EQ(d.suggested_rule, "198.51.100.11:443");
}

TEST(TlsDecision, AnIpRuleAllowsTheAddressWhateverTheName) {
  auto policy = policy_of({"203.0.113.0/24:443"});
  Facts facts;
  auto d = facts.decide(policy, hello("anything.test"), to("203.0.113.10"));
  EXPECT_EQ(d.action, TlsAction::passthrough);
  EXPECT_EQ(d.rule->text, "203.0.113.0/24:443");
}

TEST(TlsDecision, UrlRuleHostsAreInterceptedOnlyWhenBound) {
  auto policy = policy_of({"https://allowed.test/org/*"});
  Facts facts{{"allowed.test"}, {"allowed.test"}};
  EXPECT_EQ(facts.decide(policy, hello("allowed.test"), to("198.51.100.10")).action,
            TlsAction::intercept);
  Facts unbound{{}, {"allowed.test"}};
  auto d = unbound.decide(policy, hello("allowed.test"), to("198.51.100.12"));
  EXPECT_EQ(d.action, TlsAction::block);
  EXPECT_NE(d.reason.find("domain fronting"), std::string::npos);
}

TEST(TlsDecision, Ipv6DestinationsAreNamedWithBrackets) {
  auto policy = policy_of({"*.allowed.test"});
  Facts facts;
  auto d = facts.decide(policy, hello("x.allowed.test"), to("2001:db8::11"));
  EXPECT_NE(d.reason.find("[2001:db8::11]:443"), std::string::npos) << d.reason;
}

}  // namespace
}  // namespace cgfw::tls
