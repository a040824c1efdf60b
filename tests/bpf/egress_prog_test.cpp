// The egress program on crafted packets through BPF_PROG_TEST_RUN: the real program, loaded by
// the real loader, with the real maps; only the packet source is synthetic.
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <vector>

#include "policy/parser.h"
#include "runner/data_plane.h"
#include "runner/ip_allow_table.h"
#include "tests/support/packets.h"
#include "tests/support/root.h"

namespace cgfw::runner {
namespace {

using testing::make_packet;
using testing::PacketSpec;

class EgressProgram : public ::testing::Test {
 protected:
  void load(const std::vector<std::string>& rules, bool audit = false,
            bool police_loopback = false) {
    policy::Policy policy;
    for (const auto& text : rules) {
      auto parsed = policy::parse_rule(text, "test");
      ASSERT_TRUE(parsed.errors.empty()) << parsed.errors[0].to_string();
      policy::append_rules(policy, parsed.rules);
    }
    auto table = build_ip_allow_table(policy);
    ASSERT_TRUE(table.ok()) << table.error().message;
    DataPlaneConfig config;
    config.audit_mode = audit;
    config.police_loopback = police_loopback;
    config.ip_entries = table->size();
    auto plane = DataPlane::make(config);
    ASSERT_TRUE(plane.ok()) << plane.error().message;
    plane_ = std::move(*plane);
    ASSERT_TRUE(plane_->fill_ip_allow(*table).ok());
    ASSERT_TRUE(
        plane_->open_events([this](const cgfw_flow_event& e) { events_.push_back(e); }).ok());
  }

  // Runs the program once; returns its verdict (1 pass, 0 drop) and collects its events.
  int run(const PacketSpec& spec) {
    auto packet = make_packet(spec);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(),
                .data_size_in = static_cast<__u32>(packet.size()), .repeat = 1);
    int err = bpf_prog_test_run_opts(plane_->egress_prog_fd(), &opts);
    EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN failed";
    plane_->consume_events();
    return static_cast<int>(opts.retval);
  }

  cgfw_flow_event last_event() {
    if (events_.empty()) {
      ADD_FAILURE() << "the program reported no event";
      return {};
    }
    return events_.back();
  }

  std::unique_ptr<DataPlane> plane_;
  std::vector<cgfw_flow_event> events_;
};

// Deny tries are looked up first; the mode bits in the control map change decisions of the
// running program (live `cgfw ctl mode`, and a run with deny rules only).
TEST_F(EgressProgram, DenyWinsAndTheModeBitsApplyAtOnce) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.0/24"});
  policy::Policy deny_policy;
  policy::append_rules(deny_policy, policy::parse_rule("placeholder.example", "t").rules);  // id 0
  auto parsed = policy::parse_rule("198.51.100.7:443", "deny");
  policy::make_deny_rules(parsed);
  policy::append_rules(deny_policy, parsed.rules);
  auto deny = build_ip_table(deny_policy, policy::Effect::deny);
  ASSERT_TRUE(deny.ok());
  ASSERT_TRUE(plane_->fill_ip_deny(*deny).ok());

  EXPECT_EQ(run({.destination = "198.51.100.7", .destination_port = 443}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_DENIED);
  EXPECT_EQ(last_event().rule_id, 1u);
  EXPECT_EQ(run({.destination = "198.51.100.7", .destination_port = 80}), 1) << "other ports";
  EXPECT_EQ(run({.destination = "203.0.113.9", .destination_port = 80}), 0);

  ASSERT_TRUE(plane_->set_mode(false, true).ok());  // deny rules only: the rest passes
  EXPECT_EQ(run({.destination = "203.0.113.9", .destination_port = 80}), 1);
  EXPECT_EQ(last_event().reason, CGFW_REASON_DEFAULT);
  EXPECT_EQ(run({.destination = "198.51.100.7", .destination_port = 443}), 0) << "deny still wins";

  ASSERT_TRUE(plane_->set_mode(true, false).ok());  // audit
  EXPECT_EQ(run({.destination = "198.51.100.7", .destination_port = 443}), 1);
  EXPECT_EQ(last_event().verdict, CGFW_VERDICT_AUDIT);
  ASSERT_TRUE(plane_->set_mode(false, false).ok());
  EXPECT_EQ(run({.destination = "203.0.113.9", .destination_port = 80}), 0);

  ASSERT_TRUE(plane_->fill_ip_deny({}).ok());  // `cgfw ctl deny remove`
  EXPECT_EQ(run({.destination = "198.51.100.7", .destination_port = 443}), 1);
}

TEST_F(EgressProgram, AllowsTcpToAnAllowedAddressAndPort) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10:443"});
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 443}), 1);
  EXPECT_EQ(last_event().verdict, CGFW_VERDICT_ALLOW);
  EXPECT_EQ(last_event().reason, CGFW_REASON_RULE);
  EXPECT_EQ(last_event().rule_id, 0u);
  EXPECT_EQ(last_event().dport, 443);
  EXPECT_EQ(last_event().protocol, 6);
}

TEST_F(EgressProgram, BlocksAnotherAddress) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10"});
  EXPECT_EQ(run({.destination = "198.51.100.11", .destination_port = 80}), 0);
  EXPECT_EQ(last_event().verdict, CGFW_VERDICT_BLOCK);
  EXPECT_EQ(last_event().reason, CGFW_REASON_NO_RULE);
  EXPECT_EQ(last_event().rule_id, CGFW_NO_RULE);
}

TEST_F(EgressProgram, BlocksAPortTheRuleDoesNotName) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10:443"});
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 80}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_PORT);
}

TEST_F(EgressProgram, RuleWithoutPortsAllowsEveryTcpPortButNoUdp) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10"});
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 1}), 1);
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 65535}), 1);
  EXPECT_EQ(run({.destination = "198.51.100.10", .protocol = 17, .destination_port = 9999}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_PORT);
}

TEST_F(EgressProgram, UdpNeedsAnExplicitUdpRule) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.12:9999/udp"});
  EXPECT_EQ(run({.destination = "198.51.100.12", .protocol = 17, .destination_port = 9999}), 1);
  EXPECT_EQ(run({.destination = "198.51.100.12", .protocol = 6, .destination_port = 9999}), 0);
}

TEST_F(EgressProgram, PortRangesAndLists) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10:80,8000-8100"});
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 80}), 1);
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 8000}), 1);
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 8100}), 1);
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 8101}), 0);
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 81}), 0);
}

TEST_F(EgressProgram, LongestPrefixCarriesTheCoveringRulesPorts) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.0/24:443", "198.51.100.7:80"});
  EXPECT_EQ(run({.destination = "198.51.100.7", .destination_port = 80}), 1);
  EXPECT_EQ(last_event().rule_id, 1u);
  EXPECT_EQ(run({.destination = "198.51.100.7", .destination_port = 443}), 1);
  EXPECT_EQ(last_event().rule_id, 0u);
  EXPECT_EQ(run({.destination = "198.51.100.8", .destination_port = 443}), 1);
  EXPECT_EQ(run({.destination = "198.51.100.8", .destination_port = 80}), 0);
  EXPECT_EQ(run({.destination = "198.51.101.7", .destination_port = 443}), 0);
}

TEST_F(EgressProgram, IcmpIsNeverAllowed) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10", "2001:db8::/32"});
  EXPECT_EQ(run({.destination = "198.51.100.10", .protocol = 1}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_PROTOCOL);
  EXPECT_EQ(run({.destination = "2001:db8::10", .protocol = 58}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_PROTOCOL);
}

TEST_F(EgressProgram, TruncatedHeadersAreDropped) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10", "2001:db8::/32"});
  // The kernel itself refuses a test packet shorter than its IP header (as real egress never
  // has one), so truncation is tested where the program reads on its own: the ports and the
  // IPv6 extension chain.
  EXPECT_EQ(run({.destination = "198.51.100.10", .truncate_ip_to = 22}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_MALFORMED);
  EXPECT_EQ(run({.destination = "2001:db8::10", .truncate_ip_to = 41}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_MALFORMED);
  EXPECT_EQ(
      run({.destination = "2001:db8::10", .ipv6_extension_headers = {0}, .truncate_ip_to = 41}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_MALFORMED);
}

TEST_F(EgressProgram, HonoursIpv4Options) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10:443"});
  // IHL 6: the ports sit 24 bytes in; reading them at 20 would see the option bytes (zeros).
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 443, .ipv4_header_words = 6}),
            1);
  EXPECT_EQ(last_event().dport, 443);
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 80, .ipv4_header_words = 15}),
            0);
  EXPECT_EQ(last_event().dport, 80);
}

TEST_F(EgressProgram, RefusesAnIpv4HeaderShorterThanFiveWords) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10"});
  EXPECT_EQ(run({.destination = "198.51.100.10", .ipv4_header_words = 4}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_MALFORMED);
}

TEST_F(EgressProgram, NonFirstFragmentsAreRefused) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10"});
  EXPECT_EQ(run({.destination = "198.51.100.10", .ipv4_fragment_offset = 100}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_FRAGMENT);
}

TEST_F(EgressProgram, Ipv6ExactAndPrefixRules) {
  CGFW_REQUIRE_ROOT();
  load({"[2001:db8::10]:443", "2001:db8:1::/48"});
  EXPECT_EQ(run({.destination = "2001:db8::10", .destination_port = 443}), 1);
  EXPECT_EQ(last_event().family, 10);
  EXPECT_EQ(run({.destination = "2001:db8::10", .destination_port = 80}), 0);
  EXPECT_EQ(run({.destination = "2001:db8::11", .destination_port = 443}), 0);
  EXPECT_EQ(run({.destination = "2001:db8:1::10", .destination_port = 22}), 1);
}

TEST_F(EgressProgram, Ipv6OptionHeadersAreWalkedFragmentsRefused) {
  CGFW_REQUIRE_ROOT();
  load({"[2001:db8::10]:443"});
  // Hop-by-hop then destination options, then TCP to an allowed port.
  EXPECT_EQ(run({.destination = "2001:db8::10",
                 .destination_port = 443,
                 .ipv6_extension_headers = {0, 60}}),
            1);
  EXPECT_EQ(last_event().dport, 443);
  EXPECT_EQ(
      run({.destination = "2001:db8::10", .destination_port = 443, .ipv6_extension_headers = {44}}),
      0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_FRAGMENT);
  // Longer than the bounded walk: refused, not guessed.
  EXPECT_EQ(run({.destination = "2001:db8::10",
                 .destination_port = 443,
                 .ipv6_extension_headers = {0, 60, 60, 60, 60}}),
            0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_IPV6_EXT);
}

TEST_F(EgressProgram, LoopbackAllowedUnlessPoliced) {
  CGFW_REQUIRE_ROOT();
  load({});
  EXPECT_EQ(run({.destination = "127.0.0.1", .destination_port = 8080}), 1);
  EXPECT_EQ(last_event().reason, CGFW_REASON_LOOPBACK);
  EXPECT_EQ(run({.destination = "::1", .destination_port = 8080}), 1);
  EXPECT_EQ(last_event().reason, CGFW_REASON_LOOPBACK);
}

TEST_F(EgressProgram, PolicedLoopbackNeedsARule) {
  CGFW_REQUIRE_ROOT();
  load({"127.0.0.1:8080"}, /*audit=*/false, /*police_loopback=*/true);
  EXPECT_EQ(run({.destination = "127.0.0.1", .destination_port = 8080}), 1);
  EXPECT_EQ(run({.destination = "127.0.0.1", .destination_port = 8081}), 0);
  EXPECT_EQ(run({.destination = "::1", .destination_port = 8080}), 0);
  EXPECT_EQ(last_event().reason, CGFW_REASON_NO_RULE);
}

TEST_F(EgressProgram, AuditModePassesAndMarksWhatWouldBeBlocked) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10:443"}, /*audit=*/true);
  EXPECT_EQ(run({.destination = "198.51.100.11", .destination_port = 80}), 1);
  EXPECT_EQ(last_event().verdict, CGFW_VERDICT_AUDIT);
  EXPECT_EQ(last_event().reason, CGFW_REASON_NO_RULE);
  EXPECT_EQ(run({.destination = "198.51.100.10", .protocol = 1}), 1);
  EXPECT_EQ(last_event().verdict, CGFW_VERDICT_AUDIT);
  EXPECT_EQ(run({.destination = "198.51.100.10", .destination_port = 443}), 1);
  EXPECT_EQ(last_event().verdict, CGFW_VERDICT_ALLOW);
}

TEST_F(EgressProgram, CountersCountPackets) {
  CGFW_REQUIRE_ROOT();
  load({"198.51.100.10"});
  run({.destination = "198.51.100.10"});
  run({.destination = "198.51.100.10"});
  run({.destination = "198.51.100.99"});
  auto counters = plane_->counters();
  EXPECT_EQ(counters[CGFW_COUNTER_PACKETS_ALLOWED], 2u);
  EXPECT_EQ(counters[CGFW_COUNTER_PACKETS_BLOCKED], 1u);
  EXPECT_EQ(counters[CGFW_COUNTER_EVENTS_LOST], 0u);
}

}  // namespace
}  // namespace cgfw::runner
