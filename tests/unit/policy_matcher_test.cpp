#include "policy/matcher.h"

#include <arpa/inet.h>

#include <string>

#include <gtest/gtest.h>

#include "policy/parser.h"

namespace cgfw::policy {
namespace {

Policy policy_of(const std::string& text) {
  const ParseResult result = parse_rules(text, "test");
  for (const ParseError& error : result.errors) ADD_FAILURE() << error.to_string();
  Policy policy;
  append_rules(policy, result.rules);
  return policy;
}

std::array<std::uint8_t, 16> address_of(int family, const char* text) {
  std::array<std::uint8_t, 16> address{};
  EXPECT_EQ(inet_pton(family, text, address.data()), 1) << text;
  return address;
}

// The text of the matching rule, or "" for no match, so failures print something readable.
std::string domain_match(const Policy& policy, std::string_view name) {
  const Rule* rule = match_domain(policy, normalize_domain(name));
  return rule == nullptr ? "" : rule->text;
}

std::string ip_match(const Policy& policy, int family, const char* address, std::uint16_t port,
                     Transport transport = Transport::tcp) {
  const Rule* rule = match_ip(policy, family, address_of(family, address), port, transport);
  return rule == nullptr ? "" : rule->text;
}

TEST(PolicyMatcher, NormalizeDomain) {
  EXPECT_EQ(normalize_domain("A.B.Example.COM."), "a.b.example.com");
  EXPECT_EQ(normalize_domain("example.com"), "example.com");
  EXPECT_EQ(normalize_domain("localhost"), "localhost");
  EXPECT_EQ(normalize_domain("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normalize_domain(""), "");
  EXPECT_EQ(normalize_domain("."), "");
  EXPECT_EQ(normalize_domain("example.com.."), "");
  EXPECT_EQ(normalize_domain("a..b"), "");
  EXPECT_EQ(normalize_domain("_dmarc.example.com"), "");
  EXPECT_EQ(normalize_domain("-a.example.com"), "");
  EXPECT_EQ(normalize_domain("*.example.com"), "");
  EXPECT_EQ(normalize_domain("bücher.example"), "");
  EXPECT_EQ(normalize_domain("198.51.100.7"), "");
  EXPECT_EQ(normalize_domain(std::string(64, 'a') + ".com"), "");
}

TEST(PolicyMatcher, ExactDomain) {
  const Policy policy = policy_of("example.com");
  EXPECT_EQ(domain_match(policy, "example.com"), "example.com");
  EXPECT_EQ(domain_match(policy, "EXAMPLE.com."), "example.com");
  EXPECT_EQ(domain_match(policy, "www.example.com"), "");
  EXPECT_EQ(domain_match(policy, "example.co"), "");
  EXPECT_EQ(domain_match(policy, "xexample.com"), "");
  EXPECT_EQ(domain_match(policy, ""), "");
}

TEST(PolicyMatcher, WildcardUsesLabelBoundaries) {
  const Policy policy = policy_of("*.example.com");
  EXPECT_EQ(domain_match(policy, "a.example.com"), "*.example.com");
  EXPECT_EQ(domain_match(policy, "A.B.Example.COM."), "*.example.com");
  EXPECT_EQ(domain_match(policy, "x.y.z.example.com"), "*.example.com");
  EXPECT_EQ(domain_match(policy, "example.com"), "");
  EXPECT_EQ(domain_match(policy, "evilexample.com"), "");
  EXPECT_EQ(domain_match(policy, "a.evilexample.com"), "");
  EXPECT_EQ(domain_match(policy, "example.com.evil.net"), "");
  EXPECT_EQ(domain_match(policy, ".example.com"), "");
  // Without normalize_domain a raw name is compared as given.
  EXPECT_EQ(match_domain(policy, ".example.com"), nullptr);
}

TEST(PolicyMatcher, FirstMatchingDomainRuleWins) {
  const Policy policy = policy_of(
      "198.51.100.7 https://api.example.com/ *.example.com:443 "
      "api.example.com:80");
  const Rule* rule = match_domain(policy, "api.example.com");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->id, 2U);
  EXPECT_EQ(domain_match(policy, "bücher.example"), "");
}

TEST(PolicyMatcher, PunycodeRuleMatchesTheWireName) {
  const Policy policy = policy_of("bücher.example");
  EXPECT_EQ(domain_match(policy, "XN--BCHER-KVA.example"), "bücher.example");
}

TEST(PolicyMatcher, AllowsPort) {
  const Policy policy = policy_of(
      "a.example b.example:80,8000-8100 c.example:53/udp "
      "https://d.example:8443/x");
  const Rule& any_tcp = policy.rules[0];
  EXPECT_TRUE(allows_port(any_tcp, 1, Transport::tcp));
  EXPECT_TRUE(allows_port(any_tcp, 65535, Transport::tcp));
  EXPECT_FALSE(allows_port(any_tcp, 53, Transport::udp));
  const Rule& listed = policy.rules[1];
  EXPECT_TRUE(allows_port(listed, 80, Transport::tcp));
  EXPECT_FALSE(allows_port(listed, 81, Transport::tcp));
  EXPECT_FALSE(allows_port(listed, 7999, Transport::tcp));
  EXPECT_TRUE(allows_port(listed, 8000, Transport::tcp));
  EXPECT_TRUE(allows_port(listed, 8100, Transport::tcp));
  EXPECT_FALSE(allows_port(listed, 8101, Transport::tcp));
  EXPECT_FALSE(allows_port(listed, 80, Transport::udp));
  const Rule& dns = policy.rules[2];
  EXPECT_TRUE(allows_port(dns, 53, Transport::udp));
  EXPECT_FALSE(allows_port(dns, 53, Transport::tcp));
  const Rule& url = policy.rules[3];
  EXPECT_TRUE(allows_port(url, 8443, Transport::tcp));
  EXPECT_FALSE(allows_port(url, 443, Transport::tcp));
}

TEST(PolicyMatcher, Ipv4) {
  const Policy policy = policy_of(
      "198.51.100.7:443 198.51.100.0/24:80 198.51.100.0/25:53/udp "
      "203.0.113.9");
  EXPECT_EQ(ip_match(policy, AF_INET, "198.51.100.7", 443), "198.51.100.7:443");
  EXPECT_EQ(ip_match(policy, AF_INET, "198.51.100.7", 80), "198.51.100.0/24:80");
  EXPECT_EQ(ip_match(policy, AF_INET, "198.51.100.255", 80), "198.51.100.0/24:80");
  EXPECT_EQ(ip_match(policy, AF_INET, "198.51.101.1", 80), "");
  EXPECT_EQ(ip_match(policy, AF_INET, "198.51.100.8", 443), "");
  EXPECT_EQ(ip_match(policy, AF_INET, "198.51.100.127", 53, Transport::udp),
            "198.51.100.0/25:53/udp");
  EXPECT_EQ(ip_match(policy, AF_INET, "198.51.100.128", 53, Transport::udp), "");
  EXPECT_EQ(ip_match(policy, AF_INET, "203.0.113.9", 22), "203.0.113.9");
  EXPECT_EQ(ip_match(policy, AF_INET, "203.0.113.9", 53, Transport::udp), "");
}

TEST(PolicyMatcher, Ipv4IgnoresBytesPastTheAddress) {
  const Policy policy = policy_of("198.51.100.7");
  std::array<std::uint8_t, 16> address = address_of(AF_INET, "198.51.100.7");
  address[9] = 0x5a;
  EXPECT_NE(match_ip(policy, AF_INET, address, 443, Transport::tcp), nullptr);
}

TEST(PolicyMatcher, Ipv6) {
  const Policy policy = policy_of("[2001:db8::1]:443 2001:db8:1::/48 [2001:db8:2::]/127:53/udp");
  EXPECT_EQ(ip_match(policy, AF_INET6, "2001:db8::1", 443), "[2001:db8::1]:443");
  EXPECT_EQ(ip_match(policy, AF_INET6, "2001:db8::1", 80), "");
  EXPECT_EQ(ip_match(policy, AF_INET6, "2001:db8:1:ffff::1", 80), "2001:db8:1::/48");
  EXPECT_EQ(ip_match(policy, AF_INET6, "2001:db8:2::1", 53, Transport::udp),
            "[2001:db8:2::]/127:53/udp");
  EXPECT_EQ(ip_match(policy, AF_INET6, "2001:db8:2::2", 53, Transport::udp), "");
  EXPECT_EQ(ip_match(policy, AF_INET6, "2001:db9::1", 443), "");
}

TEST(PolicyMatcher, FamiliesDoNotMix) {
  const Policy policy = policy_of("0.0.0.0/0 [::]/0:443");
  EXPECT_EQ(ip_match(policy, AF_INET6, "2001:db8::1", 80), "");
  EXPECT_EQ(ip_match(policy, AF_INET6, "2001:db8::1", 443), "[::]/0:443");
  EXPECT_EQ(ip_match(policy, AF_INET, "198.51.100.1", 80), "0.0.0.0/0");
  EXPECT_EQ(match_ip(policy, AF_UNIX, address_of(AF_INET, "198.51.100.1"), 80, Transport::tcp),
            nullptr);
}

TEST(PolicyMatcher, MappedIpv6MatchesIpv4Rules) {
  const Policy policy = policy_of("198.51.100.0/24:443 [::]/0:80");
  EXPECT_EQ(ip_match(policy, AF_INET6, "::ffff:198.51.100.11", 443), "198.51.100.0/24:443");
  EXPECT_EQ(ip_match(policy, AF_INET6, "::ffff:198.51.101.11", 443), "");
  // A mapped address is an IPv4 connection, so an all-IPv6 rule does not cover it.
  EXPECT_EQ(ip_match(policy, AF_INET6, "::ffff:198.51.100.11", 80), "");
  const Policy mapped_rule = policy_of("::ffff:198.51.100.11");
  EXPECT_EQ(ip_match(mapped_rule, AF_INET, "198.51.100.11", 22), "::ffff:198.51.100.11");
}

TEST(PolicyMatcher, FirstMatchingIpRuleWins) {
  const Policy policy = policy_of("example.com 198.51.100.0/24:443 198.51.100.7:443");
  const Rule* rule =
      match_ip(policy, AF_INET, address_of(AF_INET, "198.51.100.7"), 443, Transport::tcp);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->id, 1U);
}

TEST(PolicyMatcher, SuggestIpRule) {
  EXPECT_EQ(suggest_ip_rule(AF_INET, address_of(AF_INET, "198.51.100.11"), 80, Transport::tcp),
            "198.51.100.11:80");
  EXPECT_EQ(suggest_ip_rule(AF_INET6, address_of(AF_INET6, "2001:db8::11"), 443, Transport::tcp),
            "[2001:db8::11]:443");
  EXPECT_EQ(suggest_ip_rule(AF_INET, address_of(AF_INET, "198.51.100.11"), 5353, Transport::udp),
            "198.51.100.11:5353/udp");
  EXPECT_EQ(
      suggest_ip_rule(AF_INET6, address_of(AF_INET6, "::ffff:198.51.100.11"), 80, Transport::tcp),
      "198.51.100.11:80");
  EXPECT_EQ(suggest_ip_rule(AF_UNIX, {}, 80, Transport::tcp), "");
}

TEST(PolicyMatcher, SuggestionAllowsWhatWasBlocked) {
  struct Case {
    int family;
    const char* address;
    std::uint16_t port;
    Transport transport;
  };
  for (const Case& c : {Case{AF_INET, "198.51.100.11", 80, Transport::tcp},
                        Case{AF_INET6, "2001:db8::11", 443, Transport::tcp},
                        Case{AF_INET6, "::ffff:198.51.100.11", 53, Transport::udp},
                        Case{AF_INET, "198.51.100.11", 5353, Transport::udp}}) {
    const std::array<std::uint8_t, 16> address = address_of(c.family, c.address);
    const std::string suggestion = suggest_ip_rule(c.family, address, c.port, c.transport);
    const Policy policy = policy_of(suggestion);
    EXPECT_NE(match_ip(policy, c.family, address, c.port, c.transport), nullptr) << suggestion;
    EXPECT_EQ(match_ip(policy, c.family, address, c.port + 1, c.transport), nullptr) << suggestion;
  }
}

}  // namespace
}  // namespace cgfw::policy
