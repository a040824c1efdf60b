// IP address literals in rules: parsing with inet_pton (so only the forms the kernel's own text
// functions accept), prefix lengths, IPv4-mapped folding and formatting.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "policy/rule.h"

namespace cgfw::policy {

// "198.51.100.7" as a /32. Rejects what inet_pton rejects (leading zeros, fewer than 4 parts).
std::optional<IpPrefix> parse_ipv4(std::string_view text);

// "2001:db8::1" (no brackets, no zone) as a /128; IPv4-mapped addresses are kept as IPv6 here.
std::optional<IpPrefix> parse_ipv6(std::string_view text);

// Applies "/24" to a single address; refuses lengths over the family's width and host bits set.
Result<IpPrefix> with_prefix_length(IpPrefix address, std::string_view length_text);

// True for ::ffff:0:0/96, the IPv4-mapped IPv6 addresses.
bool is_ipv4_mapped(const std::array<std::uint8_t, 16>& address);

// An IPv6 prefix inside ::ffff:0:0/96 becomes the IPv4 prefix it denotes; anything else as is.
IpPrefix fold_ipv4_mapped(IpPrefix prefix);

// inet_ntop text of an address ("198.51.100.7", "2001:db8::1"); "" for an unknown family.
std::string format_address(int family, const std::array<std::uint8_t, 16>& address);

}  // namespace cgfw::policy
