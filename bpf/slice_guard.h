/* The guard of a slice shared with strangers (--containers-slice): systemd's system.slice, where
 * dockerd's systemd cgroup driver creates each container's docker-ID.scope. cgfw's programs
 * cannot go on the slice (they would police every service), so the runner attaches them to each
 * container scope created during the run; this guard, on the slice itself, drops the packets of
 * any child cgroup the runner has not classified yet, so a container's first packet cannot leave
 * before its programs are attached. */
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
	/* A followed scope's own links are the runner's and go with it: the lockdown must hold
	 * here, on the watchdog's link, until the watchdog has stopped the container. */
	if (*kind == CGFW_SLICE_FOLLOWED && locked_down()) {
		count(CGFW_COUNTER_LOCKDOWN_DROPPED);
		return 0;
	}
	return 1;
}
