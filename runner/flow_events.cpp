#include "runner/flow_events.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstring>
#include <ctime>

#include "policy/matcher.h"

namespace cgfw::runner {
namespace {

std::chrono::nanoseconds clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

std::string protocol_name(int ip_protocol) {
  switch (ip_protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "ipv6-icmp";
    default:
      return "ip-proto-" + std::to_string(ip_protocol);
  }
}

std::string address_text(int family, const __u8 address[16]) {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AF_INET ? AF_INET : AF_INET6, address, buffer, sizeof(buffer));
  return buffer;
}

std::string reason_text(int reason, int ip_protocol, int port) {
  switch (reason) {
    case CGFW_REASON_LOOPBACK:
      return "loopback destination (allowed unless --no-loopback)";
    case CGFW_REASON_NO_RULE:
      return "no rule allows this address";
    case CGFW_REASON_DEFAULT:
      return "no deny rule names it (only deny rules were given: the rest is allowed)";
    case CGFW_REASON_PORT:
      return "a rule allows this address, but not port " + std::to_string(port) + "/" +
             protocol_name(ip_protocol);
    case CGFW_REASON_PROTOCOL:
      return protocol_name(ip_protocol) + " is never allowed: rules allow TCP and UDP ports only";
    case CGFW_REASON_MALFORMED:
      return "malformed packet headers";
    case CGFW_REASON_IPV6_EXT:
      return "IPv6 extension header chain refused";
    case CGFW_REASON_FRAGMENT:
      return "IP fragment without a transport header refused";
    case CGFW_REASON_NETNS:
      return "DNS or web traffic from a container's own network namespace, before cgfw listened "
             "on its gateway (--containers off, or not admitted yet: see docs/containers.md)";
    default:
      return "unknown reason " + std::to_string(reason);
  }
}

FlowEventTranslator::FlowEventTranslator(const policy::Policy& policy, ProcessAttributor& processes,
                                         NameOf name_of)
    : policy_(policy),
      processes_(processes),
      name_of_(std::move(name_of)),
      realtime_offset_(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC)) {}

std::chrono::system_clock::time_point FlowEventTranslator::wall_time(
    std::uint64_t monotonic_ns) const {
  auto since_epoch = std::chrono::nanoseconds(monotonic_ns) + realtime_offset_;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
}

reports::Event FlowEventTranslator::translate(const cgfw_flow_event& raw) {
  reports::Event event;
  event.time = wall_time(raw.time_ns);
  char comm[CGFW_COMM_LEN + 1] = {};
  std::memcpy(comm, raw.comm, CGFW_COMM_LEN);
  if (raw.reason == CGFW_REASON_DEVICE) return translate_device(raw, comm, std::move(event));
  event.layer = reports::Layer::packet;
  event.decision =
      raw.verdict == CGFW_VERDICT_BLOCK ? reports::Decision::blocked : reports::Decision::allowed;
  event.would_block = raw.verdict == CGFW_VERDICT_AUDIT;
  event.protocol = protocol_name(raw.protocol);
  event.ip = address_text(raw.family, raw.daddr);
  event.port = raw.dport;

  if (raw.reason == CGFW_REASON_RULE && raw.rule_id < policy_.rules.size()) {
    const auto& rule = policy_.rules[raw.rule_id];
    event.rule = reports::RuleRef{rule.text, rule.where.to_string()};
  } else if (raw.reason == CGFW_REASON_DENIED && raw.rule_id < policy_.rules.size()) {
    event.reason = policy::denial_reason(policy_.rules[raw.rule_id]);
  } else {
    event.reason = reason_text(raw.reason, raw.protocol, raw.dport);
  }
  if ((raw.reason == CGFW_REASON_NO_RULE || raw.reason == CGFW_REASON_PORT) &&
      (raw.protocol == IPPROTO_TCP || raw.protocol == IPPROTO_UDP)) {
    std::array<std::uint8_t, 16> address{};
    std::memcpy(address.data(), raw.daddr, 16);
    event.suggested_rule = policy::suggest_ip_rule(
        raw.family, address, raw.dport,
        raw.protocol == IPPROTO_UDP ? policy::Transport::udp : policy::Transport::tcp);
  }
  if (name_of_) {
    dns::Address address{};
    std::memcpy(address.data(), raw.daddr, 16);
    event.domain = name_of_(raw.family, address);
  }
  event.process = processes_.describe(static_cast<int>(raw.tgid), comm);
  event.process.cgroup_id = raw.cgroup_id;
  return event;
}

// A refused device open: no flow, no address. The program puts the device number in the ports.
reports::Event FlowEventTranslator::translate_device(const cgfw_flow_event& raw, const char* comm,
                                                     reports::Event event) {
  // The program refuses only /dev/net/tun; the number is kept in case that list grows.
  event.layer = reports::Layer::device;
  event.decision = reports::Decision::blocked;
  event.protocol = "tun";
  event.path =
      raw.sport == 10 && raw.dport == 200
          ? std::string("/dev/net/tun")
          : "character device " + std::to_string(raw.sport) + ":" + std::to_string(raw.dport);
  event.reason =
      "TUN/TAP device: packets written to it leave through the kernel's routing, not through a "
      "socket of the sandbox, so the egress program would never see them; refused";
  event.process = processes_.describe(static_cast<int>(raw.tgid), comm);
  event.process.cgroup_id = raw.cgroup_id;
  return event;
}

reports::Event FlowEventTranslator::translate(const dns::DnsObservation& observation) {
  reports::Event event;
  event.time = std::chrono::system_clock::now();
  event.layer = reports::Layer::dns;
  event.decision = observation.allowed ? reports::Decision::allowed : reports::Decision::blocked;
  event.would_block = observation.would_block;
  event.protocol = observation.transport;
  event.ip = observation.client.resolver_family ? address_text(observation.client.resolver_family,
                                                               observation.client.resolver.data())
                                                : "";
  event.port = 53;
  if (!observation.name.empty()) event.domain = observation.name;
  event.qtype = observation.qtype;
  event.answers = observation.answers;
  event.suspicious = observation.suspicious;
  if (observation.rule && observation.allowed && !observation.would_block)
    event.rule = reports::RuleRef{observation.rule->text, observation.rule->where.to_string()};
  if (!observation.reason.empty()) event.reason = observation.reason;
  if (!observation.rule && !observation.denied && !observation.name.empty() &&
      (!observation.allowed || observation.would_block))
    event.suggested_rule = observation.name;
  event.process =
      processes_.describe(static_cast<int>(observation.client.tgid), observation.client.comm);
  event.process.cgroup_id = observation.client.cgroup_id;
  return event;
}

}  // namespace cgfw::runner

namespace cgfw::runner {

reports::Event FlowEventTranslator::translate(const tls::WebObservation& observation) {
  reports::Event event;
  event.time = std::chrono::system_clock::now();
  event.layer = observation.http ? reports::Layer::http : reports::Layer::tls;
  event.decision = observation.allowed ? reports::Decision::allowed : reports::Decision::blocked;
  event.would_block = observation.would_block;
  event.protocol = "tcp";
  event.ip =
      address_text(observation.client.original.family, observation.client.original.address.data());
  event.port = observation.client.original.port;
  if (!observation.name.empty()) event.domain = observation.name;
  if (!observation.url.empty()) event.url = observation.url;
  if (!observation.method.empty()) event.method = observation.method;
  if (observation.status) event.status = observation.status;
  if (observation.allowed) {
    event.bytes_up = observation.bytes_up;
    event.bytes_down = observation.bytes_down;
  }
  if (observation.rule && observation.allowed && !observation.would_block)
    event.rule = reports::RuleRef{observation.rule->text, observation.rule->where.to_string()};
  if (!observation.reason.empty()) event.reason = observation.reason;
  if (!observation.suggested_rule.empty()) event.suggested_rule = observation.suggested_rule;
  event.process =
      processes_.describe(static_cast<int>(observation.client.tgid), observation.client.comm);
  event.process.cgroup_id = observation.client.cgroup_id;
  return event;
}

}  // namespace cgfw::runner
