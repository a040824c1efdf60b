// Crafted packets for BPF_PROG_TEST_RUN of the egress program. The kernel's test run for
// cgroup_skb expects an Ethernet header, which it pulls: the program then sees the IP header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cgfw::testing {

struct PacketSpec {
  std::string destination;  // IPv4 or IPv6 text
  std::string source;       // empty: 198.51.100.1 / 2001:db8::1
  std::uint8_t protocol = 6;
  std::uint16_t source_port = 40000;
  std::uint16_t destination_port = 443;
  int ipv4_header_words = 5;                         // IHL
  std::uint16_t ipv4_fragment_offset = 0;            // in 8-byte units
  std::vector<std::uint8_t> ipv6_extension_headers;  // next-header values, each 8 bytes long
  int truncate_ip_to = -1;  // keep only this many bytes after the Ethernet header
};

std::vector<std::uint8_t> make_packet(const PacketSpec& spec);

}  // namespace cgfw::testing
