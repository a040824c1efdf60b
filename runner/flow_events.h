// Kernel flow events -> report events: decision, reason in words, rule, suggestion, process.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "bpf/cgfw_shared.h"
#include "policy/rule.h"
#include "proxy/dns/query_handler.h"
#include "proxy/tls/web_proxy.h"
#include "reports/event.h"
#include "runner/process_info.h"

namespace cgfw::runner {

std::string protocol_name(int ip_protocol);
std::string address_text(int family, const __u8 address[16]);
// The reason, in words, for a cgfw_reason code.
std::string reason_text(int reason, int ip_protocol, int port);

class FlowEventTranslator {
 public:
  // The name an address was learned for, if any: packet events carry it as their domain.
  using NameOf = std::function<std::optional<std::string>(int family, const dns::Address&)>;

  FlowEventTranslator(const policy::Policy& policy, ProcessAttributor& processes,
                      NameOf name_of = nullptr);
  reports::Event translate(const cgfw_flow_event& raw);
  reports::Event translate(const dns::DnsObservation& observation);
  reports::Event translate(const tls::WebObservation& observation);

 private:
  reports::Event translate_device(const cgfw_flow_event& raw, const char* comm,
                                  reports::Event event);
  std::chrono::system_clock::time_point wall_time(std::uint64_t monotonic_ns) const;

  const policy::Policy& policy_;
  ProcessAttributor& processes_;
  NameOf name_of_;
  // CLOCK_REALTIME - CLOCK_MONOTONIC at start: bpf_ktime_get_ns() is monotonic.
  std::chrono::nanoseconds realtime_offset_{};
};

}  // namespace cgfw::runner
