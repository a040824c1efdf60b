#include "runner/ip_allow_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "policy/parser.h"

namespace cgfw::runner {
namespace {

policy::Policy policy_of(const std::vector<std::string>& rules) {
  policy::Policy policy;
  for (const auto& text : rules) {
    auto parsed = policy::parse_rule(text, "t");
    EXPECT_TRUE(parsed.errors.empty()) << text;
    policy::append_rules(policy, parsed.rules);
  }
  return policy;
}

const IpAllowEntry* entry_for(const std::vector<IpAllowEntry>& table, const std::string& text) {
  for (const auto& entry : table)
    if (entry.prefix.to_string() == text) return &entry;
  return nullptr;
}

TEST(IpAllowTable, RuleWithoutPortsIsEveryTcpPort) {
  auto table = build_ip_allow_table(policy_of({"198.51.100.7"}));
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->size(), 1u);
  const auto& set = (*table)[0].ports;
  ASSERT_EQ(set.count, 1u);
  EXPECT_EQ(set.ranges[0].first, 0);
  EXPECT_EQ(set.ranges[0].last, 65535);
  EXPECT_EQ(set.ranges[0].transport, CGFW_TRANSPORT_TCP);
  EXPECT_EQ(set.ranges[0].rule_id, 0u);
}

TEST(IpAllowTable, MorePreciseEntriesInheritCoveringRanges) {
  auto table = build_ip_allow_table(
      policy_of({"198.51.100.0/24:443", "198.51.100.7:80", "198.51.100.7:53/udp", "10.0.0.0/8"}));
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->size(), 3u);
  auto* host = entry_for(*table, "198.51.100.7/32");
  ASSERT_NE(host, nullptr);
  ASSERT_EQ(host->ports.count, 3u);
  EXPECT_EQ(host->ports.ranges[0].first, 443);
  EXPECT_EQ(host->ports.ranges[0].rule_id, 0u);
  EXPECT_EQ(host->ports.ranges[1].first, 80);
  EXPECT_EQ(host->ports.ranges[2].transport, CGFW_TRANSPORT_UDP);
  EXPECT_EQ(host->ports.ranges[2].rule_id, 2u);
  auto* net = entry_for(*table, "198.51.100.0/24");
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->ports.count, 1u) << "a wider prefix does not inherit a narrower one's ports";
}

TEST(IpAllowTable, NonOctetPrefixesCoverCorrectly) {
  auto table = build_ip_allow_table(
      policy_of({"198.51.100.0/25:22", "198.51.100.130:80", "198.51.100.100:80"}));
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(entry_for(*table, "198.51.100.130/32")->ports.count, 1u);
  EXPECT_EQ(entry_for(*table, "198.51.100.100/32")->ports.count, 2u);
}

TEST(IpAllowTable, Ipv6AndIpv4AreSeparate) {
  auto table = build_ip_allow_table(
      policy_of({"[2001:db8::]/32:443", "[2001:db8::1]:80", "0.0.0.0/0:8443"}));
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(entry_for(*table, "2001:db8::1/128")->ports.count, 2u);
  EXPECT_EQ(entry_for(*table, "0.0.0.0/0")->ports.count, 1u);
}

TEST(IpAllowTable, DuplicateRulesDoNotUseUpRanges) {
  std::vector<std::string> rules(40, "198.51.100.7:443");
  auto table = build_ip_allow_table(policy_of(rules));
  ASSERT_TRUE(table.ok());
  EXPECT_EQ((*table)[0].ports.count, 1u);
}

TEST(IpAllowTable, TooManyRangesForOneAddressIsAClearError) {
  std::vector<std::string> rules;
  for (int port = 1; port <= CGFW_MAX_PORT_RANGES + 1; ++port)
    rules.push_back("198.51.100.7:" + std::to_string(port));
  auto table = build_ip_allow_table(policy_of(rules));
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.error().message.find("198.51.100.7/32 is covered by more than 16 port ranges"),
            std::string::npos)
      << table.error().message;
  EXPECT_NE(table.error().message.find("t:1:1 '198.51.100.7:1'"), std::string::npos);
}

TEST(IpAllowTable, DomainAndUrlRulesAreNotIpEntries) {
  auto table = build_ip_allow_table(
      policy_of({"example.com", "*.example.org:443", "https://example.net/org/*"}));
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE(table->empty());
}

}  // namespace
}  // namespace cgfw::runner
