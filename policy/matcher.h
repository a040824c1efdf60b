// Questions asked of a Policy at run time, on the user side (the kernel answers the same IP
// questions from its maps; these serve the proxies, the reports and the tests).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/rule.h"

namespace cgfw::policy {

// Lower-cases, strips one trailing dot. Returns "" for a name that is not a valid
// LDH host name (so it can never match).
std::string normalize_domain(std::string_view name);

// Allow questions consider only active allow rules.
// The first domain/wildcard rule matching `name` (already normalized), or nullptr.
// "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com"
// and never "evilexample.com".
const Rule* match_domain(const Policy& policy, std::string_view name);

// The first active deny rule (domain or wildcard) matching `name` (already normalized), or
// nullptr. A denied name is refused at every layer that sees names: DNS, TLS SNI, HTTP Host.
const Rule* denied_name(const Policy& policy, std::string_view name);

// "denied by the deny rule 'github.com' (deny.txt:3:1)": the reason every layer gives.
std::string denial_reason(const Rule& deny);

// The first URL rule whose host is `name` (or, for a "*." host, strictly below it), or nullptr.
// Such a name must resolve (its addresses bound to the URL's port) so that the web proxy can
// check its URLs.
const Rule* match_url_host(const Policy& policy, std::string_view name);

// Every domain, wildcard and URL rule that names `name`, in order: an address learned for the
// name is allowed with the ports of all of them.
std::vector<const Rule*> rules_for_name(const Policy& policy, std::string_view name);

// True when the deny rule `rule` covers `port`. No ports = every TCP and UDP port: a deny rule
// without ports shuts the destination, not only its TCP side.
bool denies_port(const Rule& rule, std::uint16_t port, Transport transport);

// True when `rule` (of any kind) allows `port` on `transport`. No ports = every TCP port.
bool allows_port(const Rule& rule, std::uint16_t port, Transport transport);

// The first ip rule whose prefix contains the address and that allows the port.
// `address` is in network byte order; IPv4 uses the first 4 bytes.
const Rule* match_ip(const Policy& policy, int family, const std::array<std::uint8_t, 16>& address,
                     std::uint16_t port, Transport transport);

// The first active deny ip rule whose prefix contains the address and covers the port.
const Rule* denied_ip(const Policy& policy, int family, const std::array<std::uint8_t, 16>& address,
                      std::uint16_t port, Transport transport);

// The exact rule line that would allow this destination: "198.51.100.11:80",
// "[2001:db8::11]:443", "198.51.100.11:5353/udp".
std::string suggest_ip_rule(int family, const std::array<std::uint8_t, 16>& address,
                            std::uint16_t port, Transport transport);

}  // namespace cgfw::policy
