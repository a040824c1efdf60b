/* The guard of a slice shared with strangers (--containers-slice): systemd's system.slice, where
 * dockerd's systemd cgroup driver creates each container's docker-ID.scope. cgfw's programs
 * cannot go on the slice (they would police every service), so the runner attaches them to each
 * container scope created during the run; this guard, on the slice itself, drops the packets of
 * any child cgroup the runner has not classified yet, so a container's first packet cannot leave
 * before its programs are attached. The followed scopes' packets are judged by this program too. */
#pragma once

#include "bpf/config.h"
#include "bpf/egress.h"
#include "bpf/maps.h"

static __always_inline int handle_slice_guard(struct __sk_buff *skb)
{
	/* 0: the slice's own processes (there before the run), or a packet without a full socket
	 * (a time-wait ACK or RST): nothing a container can fill with data. */
	__u64 child = bpf_skb_ancestor_cgroup_id(skb, cfg_slice_child_level);
	__u8 *kind;

	if (!child)
		return 1;
	kind = bpf_map_lookup_elem(&slice_children, &child);
	if (!kind) {
		count(CGFW_COUNTER_SLICE_UNCLASSIFIED_DROPPED);
		return 0;
	}
	/* A followed scope's packets are judged here, not by an egress program of its own: the
	 * scope's links are the runner's and go with it, while this link is the watchdog's too. So
	 * the rules, and after the runner's death the lockdown, hold for as long as the scope is
	 * policed at all. */
	if (*kind == CGFW_SLICE_FOLLOWED)
		return handle_egress(skb);
	return 1;
}
