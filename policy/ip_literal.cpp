#include "policy/ip_literal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace cgfw::policy {
namespace {

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr int kMappedPrefixBits = 96;

int family_bits(int family) { return family == AF_INET ? 32 : 128; }

// Clears every bit past `bits`, giving the network address of the prefix.
std::array<std::uint8_t, 16> network_of(const std::array<std::uint8_t, 16>& address, int bits) {
  std::array<std::uint8_t, 16> network = address;
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(bits - i * 8, 0, 8);
    network[i] &= static_cast<std::uint8_t>(0xff00 >> keep);
  }
  return network;
}

}  // namespace

std::optional<IpPrefix> parse_ipv4(std::string_view text) {
  const std::string copy(text);
  in_addr addr{};
  if (inet_pton(AF_INET, copy.c_str(), &addr) != 1) return std::nullopt;
  IpPrefix prefix;
  prefix.family = AF_INET;
  std::memcpy(prefix.address.data(), &addr, 4);
  prefix.prefix_length = 32;
  return prefix;
}

std::optional<IpPrefix> parse_ipv6(std::string_view text) {
  const std::string copy(text);
  in6_addr addr{};
  if (inet_pton(AF_INET6, copy.c_str(), &addr) != 1) return std::nullopt;
  IpPrefix prefix;
  prefix.family = AF_INET6;
  std::memcpy(prefix.address.data(), &addr, 16);
  prefix.prefix_length = 128;
  return prefix;
}

Result<IpPrefix> with_prefix_length(IpPrefix address, std::string_view length_text) {
  const int max_bits = family_bits(address.family);
  const bool digits = !length_text.empty() && length_text.size() <= 3 &&
                      std::all_of(length_text.begin(), length_text.end(),
                                  [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    return make_error("prefix length '" + std::string(length_text) + "' is not a number 0-" +
                      std::to_string(max_bits));
  }
  const int bits = std::stoi(std::string(length_text));
  if (bits > max_bits) {
    return make_error("prefix length " + std::to_string(bits) + " is longer than " +
                      std::to_string(max_bits) + " bits");
  }
  IpPrefix network = address;
  network.prefix_length = bits;
  network.address = network_of(address.address, bits);
  if (network.address != address.address) {
    // A rule like 198.51.100.7/24 is almost always a typo for one of two things; say which
    // network it would be so the writer can choose.
    return make_error("host bits are set below the /" + std::to_string(bits) +
                      " prefix; the network is " + network.to_string() +
                      " (or drop the length for the single address)");
  }
  return network;
}

bool is_ipv4_mapped(const std::array<std::uint8_t, 16>& address) {
  return std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), address.begin());
}

IpPrefix fold_ipv4_mapped(IpPrefix prefix) {
  if (prefix.family != AF_INET6 || prefix.prefix_length < kMappedPrefixBits ||
      !is_ipv4_mapped(prefix.address)) {
    return prefix;
  }
  IpPrefix folded;
  folded.family = AF_INET;
  std::copy_n(prefix.address.begin() + 12, 4, folded.address.begin());
  folded.prefix_length = prefix.prefix_length - kMappedPrefixBits;
  return folded;
}

std::string format_address(int family, const std::array<std::uint8_t, 16>& address) {
  if (family != AF_INET && family != AF_INET6) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family, address.data(), text, sizeof text) == nullptr) return "";
  return text;
}

}  // namespace cgfw::policy
