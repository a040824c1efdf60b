// What to do with a TLS connection once its ClientHello is read: pass it through untouched,
// intercept it (URL rules need the plaintext), or refuse it. Pure: the proxy supplies the facts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "policy/rule.h"
#include "proxy/dns/learned_table.h"
#include "proxy/tls/client_hello.h"

namespace cgfw::tls {

enum class TlsAction { passthrough, intercept, block };

struct TlsDecision {
  TlsAction action = TlsAction::block;
  const policy::Rule* rule = nullptr;  // what allows it
  std::string reason;                  // why blocked (or, for audit, why it would be)
  std::string suggested_rule;          // the rule line that would allow it
};

struct Destination {
  int family = 0;
  dns::Address address{};
  std::uint16_t port = 0;
};

// `resolved_for(name)`: the destination address is one the DNS proxy learned for `name`.
// `host_needs_interception(name)`: URL rules name this host (or every host is inspected).
// Rules, in order:
//  - a deny rule covering the destination address and port, or naming the SNI: blocked;
//  - only deny rules given (Policy::default_allow): passthrough, or intercept where deny URL
//    rules name the host;
//  - no SNI: allowed only by an IP rule covering the destination (passthrough);
//  - SNI whose host has URL rules: intercept, provided the destination is bound to the name
//    (resolved for it, or an IP rule covers it);
//  - SNI allowed by a domain rule on this port, destination resolved for that name: passthrough;
//  - SNI allowed but the destination was not resolved for it: domain fronting, blocked;
//  - SNI not allowed, but an IP rule covers the destination on this port: passthrough (the user
//    allowed that address outright);
//  - else blocked.
TlsDecision decide_tls(const policy::Policy& policy, const ClientHello& hello,
                       const Destination& destination,
                       const std::function<bool(const std::string&)>& resolved_for,
                       const std::function<bool(const std::string&)>& host_needs_interception);

std::string destination_text(const Destination& destination);

}  // namespace cgfw::tls
