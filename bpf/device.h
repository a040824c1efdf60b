/* cgroup/dev: the devices a sandboxed process may open. Every device is allowed except those
 * that lead out of the sandbox past the egress program: a TUN/TAP device injects packets that
 * no socket of the cgroup sends, so cgroup_skb/egress never sees them. Each refusal is reported
 * (the same ring buffer as flows, reason CGFW_REASON_DEVICE). */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/maps.h"

/* /dev/net/tun: misc major 10, minor 200 (Documentation/admin-guide/devices.txt). */
#define CGFW_TUN_MAJOR 10
#define CGFW_TUN_MINOR 200

static __always_inline int handle_device(struct bpf_cgroup_dev_ctx *ctx)
{
	__u32 type = ctx->access_type & 0xffff;
	struct cgfw_flow_event *event;
	__u64 id;

	if (type != BPF_DEVCG_DEV_CHAR || ctx->major != CGFW_TUN_MAJOR ||
	    ctx->minor != CGFW_TUN_MINOR)
		return 1;

	count(CGFW_COUNTER_DEVICES_REFUSED);
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count(CGFW_COUNTER_EVENTS_LOST);
		return 0;
	}
	__builtin_memset(event, 0, sizeof(*event));
	id = bpf_get_current_pid_tgid();
	event->time_ns = bpf_ktime_get_ns();
	event->tgid = id >> 32;
	event->pid = (__u32)id;
	event->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	event->rule_id = CGFW_NO_RULE;
	event->verdict = CGFW_VERDICT_BLOCK;
	event->reason = CGFW_REASON_DEVICE;
	/* A device event has no addresses: the device number travels in the port fields. */
	event->sport = (__u16)ctx->major;
	event->dport = (__u16)ctx->minor;
	bpf_ringbuf_submit(event, 0);
	return 0;
}
