#include "tests/support/packets.h"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace cgfw::testing {
namespace {

void put16(std::vector<std::uint8_t>& out, std::size_t at, std::uint16_t value) {
  out[at] = static_cast<std::uint8_t>(value >> 8);
  out[at + 1] = static_cast<std::uint8_t>(value & 0xff);
}

std::vector<std::uint8_t> transport_header(const PacketSpec& spec) {
  std::vector<std::uint8_t> l4(spec.protocol == 6 ? 20 : 8, 0);
  put16(l4, 0, spec.source_port);
  put16(l4, 2, spec.destination_port);
  if (spec.protocol == 6) l4[12] = 5 << 4;          // TCP data offset
  if (spec.protocol == 1 || spec.protocol == 58) {  // ICMP echo request: no ports
    l4.assign(8, 0);
    l4[0] = spec.protocol == 1 ? 8 : 128;
  }
  return l4;
}

}  // namespace

std::vector<std::uint8_t> make_packet(const PacketSpec& spec) {
  std::vector<std::uint8_t> packet(14, 0);
  bool v6 = spec.destination.find(':') != std::string::npos;
  packet[12] = v6 ? 0x86 : 0x08;
  packet[13] = v6 ? 0xdd : 0x00;
  auto l4 = transport_header(spec);

  if (!v6) {
    std::size_t header = static_cast<std::size_t>(spec.ipv4_header_words) * 4;
    std::vector<std::uint8_t> ip(std::max<std::size_t>(header, 20), 0);
    ip[0] = static_cast<std::uint8_t>(0x40 | (spec.ipv4_header_words & 0xf));
    put16(ip, 2, static_cast<std::uint16_t>(header + l4.size()));
    put16(ip, 6, spec.ipv4_fragment_offset & 0x1fff);
    ip[8] = 64;
    ip[9] = spec.protocol;
    std::string source = spec.source.empty() ? "198.51.100.1" : spec.source;
    if (inet_pton(AF_INET, source.c_str(), &ip[12]) != 1 ||
        inet_pton(AF_INET, spec.destination.c_str(), &ip[16]) != 1)
      throw std::invalid_argument("bad IPv4 address in PacketSpec");
    ip.resize(header);
    packet.insert(packet.end(), ip.begin(), ip.end());
  } else {
    std::vector<std::uint8_t> ip(40, 0);
    ip[0] = 0x60;
    std::size_t ext_bytes = spec.ipv6_extension_headers.size() * 8;
    put16(ip, 4, static_cast<std::uint16_t>(ext_bytes + l4.size()));
    ip[6] = spec.ipv6_extension_headers.empty() ? spec.protocol : spec.ipv6_extension_headers[0];
    ip[7] = 64;
    std::string source = spec.source.empty() ? "2001:db8::1" : spec.source;
    if (inet_pton(AF_INET6, source.c_str(), &ip[8]) != 1 ||
        inet_pton(AF_INET6, spec.destination.c_str(), &ip[24]) != 1)
      throw std::invalid_argument("bad IPv6 address in PacketSpec");
    for (std::size_t i = 0; i < spec.ipv6_extension_headers.size(); ++i) {
      std::vector<std::uint8_t> ext(8, 0);
      ext[0] = i + 1 < spec.ipv6_extension_headers.size() ? spec.ipv6_extension_headers[i + 1]
                                                          : spec.protocol;
      ext[1] = 0;  // length in 8-byte units, minus the first 8
      ip.insert(ip.end(), ext.begin(), ext.end());
    }
    packet.insert(packet.end(), ip.begin(), ip.end());
  }
  packet.insert(packet.end(), l4.begin(), l4.end());
  if (spec.truncate_ip_to >= 0)
    packet.resize(std::min(packet.size(), 14 + static_cast<std::size_t>(spec.truncate_ip_to)));
  return packet;
}

}  // namespace cgfw::testing
