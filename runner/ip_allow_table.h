// Turns the IP rules of a Policy into the entries of the kernel's LPM allow tries.
#pragma once

#include <vector>

#include "bpf/cgfw_shared.h"
#include "common/result.h"
#include "policy/rule.h"

namespace cgfw::runner {

struct IpAllowEntry {
  policy::IpPrefix prefix;
  cgfw_port_set ports{};
};

// One entry per distinct prefix. An LPM lookup returns only the longest matching prefix, so
// each entry carries the port ranges of every rule whose prefix covers it: with
// "198.51.100.0/24:443" and "198.51.100.7:80", 198.51.100.7 allows both 80 and 443.
// A rule without ports contributes TCP 0-65535. Fails when a prefix needs more than
// CGFW_MAX_PORT_RANGES ranges, naming the rules involved.
Result<std::vector<IpAllowEntry>> build_ip_allow_table(const policy::Policy& policy);

// The same for the active rules of either effect: the deny tries are built like the allow
// tries, except that a deny rule without ports covers every TCP and UDP port.
Result<std::vector<IpAllowEntry>> build_ip_table(const policy::Policy& policy,
                                                 policy::Effect effect);

}  // namespace cgfw::runner
