// The structs that cross the kernel boundary: the BPF object and the runner must agree byte for
// byte. The sizes are static_asserted in the header; the offsets are checked here.
#include <gtest/gtest.h>

#include <cstddef>

#include "bpf/cgfw_shared.h"

namespace {

TEST(SharedLayout, FlowEventOffsets) {
  EXPECT_EQ(offsetof(cgfw_flow_event, time_ns), 0u);
  EXPECT_EQ(offsetof(cgfw_flow_event, cookie), 8u);
  EXPECT_EQ(offsetof(cgfw_flow_event, tgid), 16u);
  EXPECT_EQ(offsetof(cgfw_flow_event, pid), 20u);
  EXPECT_EQ(offsetof(cgfw_flow_event, rule_id), 24u);
  EXPECT_EQ(offsetof(cgfw_flow_event, family), 28u);
  EXPECT_EQ(offsetof(cgfw_flow_event, protocol), 29u);
  EXPECT_EQ(offsetof(cgfw_flow_event, verdict), 30u);
  EXPECT_EQ(offsetof(cgfw_flow_event, reason), 31u);
  EXPECT_EQ(offsetof(cgfw_flow_event, sport), 32u);
  EXPECT_EQ(offsetof(cgfw_flow_event, dport), 34u);
  EXPECT_EQ(offsetof(cgfw_flow_event, saddr), 36u);
  EXPECT_EQ(offsetof(cgfw_flow_event, daddr), 52u);
  EXPECT_EQ(offsetof(cgfw_flow_event, comm), 68u);
  EXPECT_EQ(offsetof(cgfw_flow_event, cgroup_id), 88u);
  EXPECT_EQ(sizeof(cgfw_flow_event), 96u);
}

TEST(SharedLayout, PortSetOffsets) {
  EXPECT_EQ(offsetof(cgfw_port_range, first), 0u);
  EXPECT_EQ(offsetof(cgfw_port_range, last), 2u);
  EXPECT_EQ(offsetof(cgfw_port_range, transport), 4u);
  EXPECT_EQ(offsetof(cgfw_port_range, rule_id), 8u);
  EXPECT_EQ(offsetof(cgfw_port_set, ranges), 8u);
  EXPECT_EQ(sizeof(cgfw_port_set), 8u + 12u * CGFW_MAX_PORT_RANGES);
}

TEST(SharedLayout, KeysHaveNoHiddenPadding) {
  // Hash keys are compared as bytes: every byte must be a named field or explicit padding.
  EXPECT_EQ(offsetof(cgfw_flow_key, daddr), 8u);
  EXPECT_EQ(offsetof(cgfw_flow_key, dport), 24u);
  EXPECT_EQ(offsetof(cgfw_flow_key, protocol), 26u);
  EXPECT_EQ(offsetof(cgfw_flow_key, verdict), 27u);
  EXPECT_EQ(offsetof(cgfw_flow_key, pad), 28u);
  EXPECT_EQ(sizeof(cgfw_flow_key), 32u);
  EXPECT_EQ(offsetof(cgfw_local_endpoint, port), 16u);
  EXPECT_EQ(offsetof(cgfw_local_endpoint, family), 18u);
  EXPECT_EQ(sizeof(cgfw_local_endpoint), 24u);
  EXPECT_EQ(offsetof(cgfw_lpm_key_v4, addr), 4u);
  EXPECT_EQ(offsetof(cgfw_lpm_key_v6, addr), 4u);
  EXPECT_EQ(offsetof(cgfw_original_dest, tgid), 20u);
}

}  // namespace
