// One DNS query from a sandboxed process, whatever transport it came by: parse, decide, answer
// blocked names at once, forward allowed ones, learn the answer's addresses into the kernel
// allow map BEFORE the answer is released, and say what happened.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "policy/rule.h"
#include "proxy/dns/learned_table.h"
#include "proxy/dns/message.h"
#include "proxy/dns/upstream.h"

namespace cgfw::dns {

// Who sent a query, as the kernel recorded it for the client's endpoint.
struct ClientInfo {
  std::uint32_t tgid = 0;
  std::string comm;
  std::uint64_t cgroup_id = 0;  // the client's cgroup v2 id at the socket call; 0: unknown
  bool redirected = false;      // the socket asked for port 53 somewhere and cgfw sent it here
  int resolver_family = 0;      // the resolver it asked for
  Address resolver{};
};

// What happened to one query: the proxy's report to the runner.
struct DnsObservation {
  ClientInfo client;
  std::string transport;  // "udp" or "tcp"
  std::string name;       // as asked (lower-case); "" when the query could not be parsed
  std::string qtype;      // "A", "AAAA", "TYPE65", ...
  bool allowed = false;
  bool would_block = false;               // audit mode: forwarded only because nothing is enforced
  bool denied = false;                    // a deny rule names it (`reason` says which)
  const policy::Rule* rule = nullptr;     // the allow rule, if any
  std::string reason;                     // why blocked, or notes (e.g. addresses not learned)
  std::vector<std::string> answers;       // addresses and "CNAME target" lines of the chain
  std::optional<std::string> suspicious;  // why the name looks like data smuggled out
};

// Audit mode is the policy's (Policy::audit): it can change while the proxy runs.
struct QueryPolicy {
  Rcode block_rcode = Rcode::nxdomain;
};

class QueryHandler {
 public:
  using Respond = std::function<void(std::vector<std::uint8_t> response)>;
  using Observe = std::function<void(const DnsObservation&)>;

  QueryHandler(QueryPolicy settings, const policy::Policy& policy, LearnedTable& learned,
               Upstream& over_udp, Upstream& over_tcp, Observe observe)
      : settings_(settings),
        policy_(policy),
        learned_(learned),
        over_udp_(over_udp),
        over_tcp_(over_tcp),
        observe_(std::move(observe)) {}

  // Answers `query`. `respond` runs exactly once, possibly before handle() returns, with the
  // response, or with nothing when the message must not be answered (a response sent to us).
  // For UDP clients a response too large for them is cut to a truncated (TC) one so they retry
  // over TCP.
  void handle(std::span<const std::uint8_t> query, const ClientInfo& client, bool over_tcp,
              Respond respond);

 private:
  void on_answer(const QueryInfo& query, DnsObservation observation, bool over_tcp,
                 std::vector<std::uint8_t> original_query, std::vector<std::uint8_t> answer,
                 const std::string& error, const Respond& respond);

  QueryPolicy settings_;
  const policy::Policy& policy_;
  LearnedTable& learned_;
  Upstream& over_udp_;
  Upstream& over_tcp_;
  Observe observe_;
};

std::string qtype_name(std::uint16_t qtype);
// Why `name` looks like an exfiltration channel (very long or high-entropy labels), or nothing.
std::optional<std::string> suspicious_name(const std::string& name);

}  // namespace cgfw::dns
