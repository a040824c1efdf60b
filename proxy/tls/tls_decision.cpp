#include "proxy/tls/tls_decision.h"

#include <arpa/inet.h>

#include "policy/matcher.h"

namespace cgfw::tls {

std::string destination_text(const Destination& destination) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(destination.family, destination.address.data(), text, sizeof(text));
  return destination.family == AF_INET6
             ? "[" + std::string(text) + "]:" + std::to_string(destination.port)
             : std::string(text) + ":" + std::to_string(destination.port);
}

TlsDecision decide_tls(const policy::Policy& policy, const ClientHello& hello,
                       const Destination& destination,
                       const std::function<bool(const std::string&)>& resolved_for,
                       const std::function<bool(const std::string&)>& host_needs_interception) {
  TlsDecision decision;
  // Deny wins, by address and by server name alike.
  const policy::Rule* deny = policy::denied_ip(policy, destination.family, destination.address,
                                               destination.port, policy::Transport::tcp);
  if (!deny && hello.has_sni) deny = policy::denied_name(policy, hello.sni);
  if (deny) {
    decision.reason = policy::denial_reason(*deny);
    return decision;
  }
  if (policy.default_allow) {
    // Only deny rules were given: what they do not name passes, looked into only where deny URL
    // rules need the requests.
    decision.action = hello.has_sni && host_needs_interception(hello.sni) ? TlsAction::intercept
                                                                          : TlsAction::passthrough;
    return decision;
  }
  const policy::Rule* ip_rule = policy::match_ip(policy, destination.family, destination.address,
                                                 destination.port, policy::Transport::tcp);
  if (!hello.has_sni) {
    if (ip_rule) {
      decision.action = TlsAction::passthrough;
      decision.rule = ip_rule;
      return decision;
    }
    decision.reason = "TLS without a server name (SNI), to an address no rule allows";
    decision.suggested_rule = policy::suggest_ip_rule(destination.family, destination.address,
                                                      destination.port, policy::Transport::tcp);
    return decision;
  }
  const std::string& name = hello.sni;
  bool bound = resolved_for(name) || ip_rule != nullptr;
  if (host_needs_interception(name)) {
    if (bound) {
      decision.action = TlsAction::intercept;
      return decision;
    }
    decision.reason = "domain fronting: " + destination_text(destination) +
                      " was not resolved for '" + name + "'";
    return decision;
  }
  const policy::Rule* rule = policy::match_domain(policy, name);
  if (rule && policy::allows_port(*rule, destination.port, policy::Transport::tcp)) {
    if (resolved_for(name) || ip_rule) {
      decision.action = TlsAction::passthrough;
      decision.rule = rule;
      return decision;
    }
    decision.reason = "domain fronting: the server name '" + name + "' is allowed, but " +
                      destination_text(destination) + " was not resolved for it";
    return decision;
  }
  if (ip_rule) {
    decision.action = TlsAction::passthrough;
    decision.rule = ip_rule;
    return decision;
  }
  decision.reason =
      rule ? "a rule allows '" + name + "', but not port " + std::to_string(destination.port)
           : "no rule allows the server name '" + name + "'";
  decision.suggested_rule = rule ? name + ":" + std::to_string(destination.port) : name;
  return decision;
}

}  // namespace cgfw::tls
