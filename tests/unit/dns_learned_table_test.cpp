#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <map>

#include "policy/parser.h"
#include "proxy/dns/learned_table.h"
#include "proxy/dns/query_handler.h"

namespace cgfw::dns {
namespace {

struct FakeKernel : KernelAllowMap {
  std::map<std::pair<int, Address>, cgfw_port_set> entries;
  std::size_t capacity = 100;
  Status put(int family, const Address& address, const cgfw_port_set& ports) override {
    auto key = std::make_pair(family, address);
    if (!entries.count(key) && entries.size() >= capacity)
      return make_error("the kernel map of learned addresses is full");
    entries[key] = ports;
    return Ok{};
  }
  void remove(int family, const Address& address) override {
    entries.erase(std::make_pair(family, address));
  }
};

Address v4(const char* text) {
  Address a{};
  inet_pton(AF_INET, text, a.data());
  return a;
}
Address v6(const char* text) {
  Address a{};
  inet_pton(AF_INET6, text, a.data());
  return a;
}
policy::Rule rule(const char* text, std::uint32_t id = 0) {
  auto parsed = policy::parse_rule(text, "t");
  EXPECT_TRUE(parsed.errors.empty());
  auto r = parsed.rules.at(0);
  r.id = id;
  return r;
}

using Clock = LearnedTable::Clock;

// One CDN address serves every name a build asks for; each stays bound to it (the proxy's check
// against domain fronting depends on it). A bound of 256 per address once refused the 257th.
TEST(LearnedTable, KeepsThousandsOfNamesOnOneAddress) {
  FakeKernel kernel;
  LearnedTable table(kernel, std::chrono::seconds(600));
  auto now = Clock::now();
  auto wildcard = rule("*.allowed.test:443");
  for (int i = 0; i < 5000; ++i)
    ASSERT_TRUE(table
                    .learn(AF_INET, v4("198.51.100.20"), wildcard, 30,
                           "n" + std::to_string(i) + ".allowed.test", now)
                    .ok());
  for (int i : {0, 255, 256, 257, 4999})
    EXPECT_TRUE(
        table.resolved_for(AF_INET, v4("198.51.100.20"), "n" + std::to_string(i) + ".allowed.test"))
        << i;
  EXPECT_FALSE(table.resolved_for(AF_INET, v4("198.51.100.20"), "n5000.allowed.test"));
}

TEST(LearnedTable, LearnsWithTheRulesPortsAndExpiresAfterTheMinimum) {
  FakeKernel kernel;
  LearnedTable table(kernel, std::chrono::seconds(600));
  auto now = Clock::now();
  ASSERT_TRUE(table
                  .learn(AF_INET, v4("198.51.100.10"), rule("*.allowed.test:443"), 30,
                         "x.allowed.test", now)
                  .ok());
  auto& set = kernel.entries.at({AF_INET, v4("198.51.100.10")});
  ASSERT_EQ(set.count, 1u);
  EXPECT_EQ(set.ranges[0].first, 443);
  EXPECT_EQ(table.name_of(AF_INET, v4("198.51.100.10")), "x.allowed.test");
  EXPECT_EQ(table.expire(now + std::chrono::seconds(599)), 0u) << "TTL 30 s, minimum 600 s";
  EXPECT_EQ(table.expire(now + std::chrono::seconds(601)), 1u);
  EXPECT_TRUE(kernel.entries.empty());
  EXPECT_FALSE(table.name_of(AF_INET, v4("198.51.100.10")));
}

TEST(LearnedTable, LongTtlWinsAndRelearningExtends) {
  FakeKernel kernel;
  LearnedTable table(kernel, std::chrono::seconds(60));
  auto now = Clock::now();
  ASSERT_TRUE(table.learn(AF_INET6, v6("2001:db8::10"), rule("a.test"), 3600, "a.test", now).ok());
  EXPECT_EQ(table.expire(now + std::chrono::seconds(3599)), 0u);
  ASSERT_TRUE(table
                  .learn(AF_INET6, v6("2001:db8::10"), rule("a.test"), 10, "a.test",
                         now + std::chrono::seconds(3599))
                  .ok());
  EXPECT_EQ(table.expire(now + std::chrono::seconds(3601)), 0u) << "extended by the new answer";
  EXPECT_EQ(table.expire(now + std::chrono::seconds(3660)), 1u);
}

TEST(LearnedTable, TwoNamesOnOneAddressMergeTheirPorts) {
  FakeKernel kernel;
  LearnedTable table(kernel);
  auto now = Clock::now();
  ASSERT_TRUE(
      table.learn(AF_INET, v4("203.0.113.10"), rule("a.test:443", 0), 60, "a.test", now).ok());
  ASSERT_TRUE(
      table.learn(AF_INET, v4("203.0.113.10"), rule("b.test:53/udp", 1), 60, "b.test", now).ok());
  ASSERT_TRUE(
      table.learn(AF_INET, v4("203.0.113.10"), rule("a.test:443", 0), 60, "a.test", now).ok());
  auto& set = kernel.entries.at({AF_INET, v4("203.0.113.10")});
  ASSERT_EQ(set.count, 2u);
  EXPECT_EQ(set.ranges[1].transport, CGFW_TRANSPORT_UDP);
  EXPECT_EQ(set.ranges[1].rule_id, 1u);
}

TEST(LearnedTable, AFullKernelMapIsAnErrorAndChangesNothing) {
  FakeKernel kernel;
  kernel.capacity = 1;
  LearnedTable table(kernel);
  auto now = Clock::now();
  ASSERT_TRUE(table.learn(AF_INET, v4("203.0.113.10"), rule("a.test"), 60, "a.test", now).ok());
  auto full = table.learn(AF_INET, v4("203.0.113.11"), rule("a.test"), 60, "a.test", now);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("full"), std::string::npos);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_FALSE(table.name_of(AF_INET, v4("203.0.113.11")));
}

TEST(InternalAddresses, NeverOpenedByDns) {
  for (const char* a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                        "169.254.169.254", "168.63.129.16", "100.64.0.1", "0.0.0.0", "224.0.0.1"})
    EXPECT_TRUE(is_internal_address(AF_INET, v4(a))) << a;
  for (const char* a : {"198.51.100.10", "203.0.113.10", "172.32.0.1", "8.8.8.8", "100.128.0.1"})
    EXPECT_FALSE(is_internal_address(AF_INET, v4(a))) << a;
  for (const char* a : {"::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1",
                        "::ffff:10.0.0.1", "::ffff:169.254.169.254"})
    EXPECT_TRUE(is_internal_address(AF_INET6, v6(a))) << a;
  for (const char* a : {"2001:db8::10", "2606:4700::1111", "::ffff:198.51.100.10"})
    EXPECT_FALSE(is_internal_address(AF_INET6, v6(a))) << a;
}

TEST(SuspiciousNames, LongOrHighEntropyLabels) {
  EXPECT_FALSE(suspicious_name("objects.githubusercontent.com"));
  EXPECT_FALSE(suspicious_name("pipelines-artifacts-westus2.blob.core.windows.net"));
  EXPECT_EQ(suspicious_name(std::string(40, 'a') + ".allowed.test"), "label of 40 characters");
  EXPECT_TRUE(suspicious_name("q8zk3m1x9vb2n7c4lw5r0t6y.allowed.test"));
  EXPECT_TRUE(suspicious_name(std::string(151, 'a')));
}

TEST(QtypeNames, KnownAndNumeric) {
  EXPECT_EQ(qtype_name(1), "A");
  EXPECT_EQ(qtype_name(28), "AAAA");
  EXPECT_EQ(qtype_name(65), "HTTPS");
  EXPECT_EQ(qtype_name(4242), "TYPE4242");
}

}  // namespace
}  // namespace cgfw::dns
