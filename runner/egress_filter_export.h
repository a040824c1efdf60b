// The IP rules of a policy as one pinned cgroup_skb egress program, for systemd's
// `IPEgressFilterPath=` (docs/ipegressfilter.md): no runner, no proxies, no reports.
#pragma once

#include <string>

#include "common/result.h"
#include "policy/rule.h"

namespace cgfw::runner {

// Loads cgfw's egress program with the policy's IP rules in its tries (allow and deny; the
// policy's default-allow mode too), no DNS or web redirect, loopback allowed, and pins it, alone,
// at `pin_path`, which must lie under a bpffs mount (read from /proc/mounts); missing parent
// directories are created there. Refuses: a policy with a rule in force that is not an IP rule
// (names need the DNS proxy, URLs the web proxy; the first such rule is named with its
// file:line:column), an audit policy, a path outside bpffs, and an existing pin unless `replace`
// is set, and then only a cgfw egress pin. A replacement is pinned beside the old pin and renamed
// over it: a unit that starts meanwhile finds one or the other, never nothing.
Status export_egress_filter(const policy::Policy& policy, const std::string& pin_path,
                            bool replace = false);

// Removes a pin made by export_egress_filter. Fails when there is none, or when the pin is not
// a cgfw egress program. Units already running keep the program until their cgroup goes.
Status unexport_egress_filter(const std::string& pin_path);

}  // namespace cgfw::runner
