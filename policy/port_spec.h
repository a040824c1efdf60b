// The ":PORTS[/tcp|/udp]" suffix of domain, wildcard and ip rules, and the single port of a URL.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/rule.h"

namespace cgfw::policy {

// "443" -> 443; refuses empty text, non-digits, 0 and anything over 65535.
Result<std::uint16_t> parse_port_number(std::string_view text);

// The text after the ':' of a rule: "443", "80,443", "8000-8100/udp". Never returns an empty
// vector: "no ports" is spelt by leaving out the ':' altogether.
Result<std::vector<PortRange>> parse_port_spec(std::string_view spec);

}  // namespace cgfw::policy
