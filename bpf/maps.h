/* Every map of a cgfw run, declared once. Each comment: key -> value, writer, reader.
 * All maps belong to one run (one skeleton instance): two sandboxes never share state. */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/cgfw_shared.h"

/* prefix -> allowed port ranges (IPv4). Writer: runner (static rules). Reader: egress.
 * max_entries is resized by the runner before load. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct cgfw_lpm_key_v4);
	__type(value, struct cgfw_port_set);
} allow_v4 SEC(".maps");

/* prefix -> allowed port ranges (IPv6). Writer: runner. Reader: egress. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct cgfw_lpm_key_v6);
	__type(value, struct cgfw_port_set);
} allow_v6 SEC(".maps");

/* prefix -> denied port ranges (IPv4), checked before everything else: deny wins. Writer: runner
 * (deny rules, at start and on `cgfw ctl deny`). Reader: egress. Resized like allow_v4. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct cgfw_lpm_key_v4);
	__type(value, struct cgfw_port_set);
} deny_v4 SEC(".maps");

/* prefix -> denied port ranges (IPv6). Same writer and reader. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct cgfw_lpm_key_v6);
	__type(value, struct cgfw_port_set);
} deny_v6 SEC(".maps");

/* address -> allowed port ranges, learned from DNS answers for allowed names (IPv4). Writer:
 * DNS proxy (before it releases the answer), which also removes expired entries. Reader: egress.
 * A plain hash (not LRU): when it is full, the proxy fails the answer (SERVFAIL), never evicts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct cgfw_port_set);
} learned_v4 SEC(".maps");

/* address -> allowed port ranges, learned from DNS (IPv6). Same writer and reader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cgfw_addr6);
	__type(value, struct cgfw_port_set);
} learned_v6 SEC(".maps");

/* client endpoint -> process and original destination, for traffic to cgfw's proxies.
 * Writer: egress (first packet of each client endpoint). Reader: the proxies. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cgfw_local_endpoint);
	__type(value, struct cgfw_proxy_client);
} proxy_clients SEC(".maps");

/* TCP destination port -> enum cgfw_port_kind: connections to these ports go to the TLS/HTTP
 * proxy. Writer: runner (80, 443, --http-port, --tls-port). Reader: connect4/6. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} redirect_ports SEC(".maps");

/* socket -> owning process. Writer: sock_create, connect*, sendmsg*. Reader: egress. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgfw_sock_owner);
} sock_owner SEC(".maps");

/* flow -> 1, flows already reported. Writer + reader: egress. LRU: an evicted flow is merely
 * reported again (user space deduplicates), never let through unchecked. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cgfw_flow_key);
	__type(value, __u8);
} reported_flows SEC(".maps");

/* Flow events. Writer: egress. Reader: runner (ring buffer consumer). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* enum cgfw_counter -> count. Writer: every program. Reader: runner (report summary). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CGFW_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* client local endpoint -> socket cookie. Writer: sockops (established, removed on close).
 * Reader: the TLS/HTTP proxy, to find the original destination of an accepted connection. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cgfw_local_endpoint);
	__type(value, __u64);
} client_sockets SEC(".maps");

/* socket cookie -> first destination asked for, before any redirect. Writer: connect*,
 * sendmsg*. Reader: proxies and tests. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct cgfw_original_dest);
} original_dests SEC(".maps");

/* netns cookie -> where that namespace reaches the proxies. Writer: the runner, when a container
 * (or any other namespace inside the cgroup) is admitted. Reader: connect*, sendmsg*, recvmsg*,
 * egress. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct cgfw_netns_proxy);
} netns_proxies SEC(".maps");

/* child cgroup id of a guarded slice -> enum cgfw_slice_child. Writer: the runner (at start,
 * and as children appear). Reader: the slice guard. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} slice_children SEC(".maps");

/* CGFW_CONTROL_KEY_FLAGS -> enum cgfw_control flags. Writer: the watchdog, when the runner is
 * gone (lockdown). CGFW_CONTROL_KEY_GENERATION -> the verdict generation. Writer: the runner.
 * CGFW_CONTROL_KEY_MODE -> enum cgfw_mode bits. Writer: the runner.
 * Reader: egress. A map, not rodata: it changes while the programs run. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CGFW_CONTROL_KEYS);
	__type(key, __u32);
	__type(value, __u32);
} control SEC(".maps");

static __always_inline void count(enum cgfw_counter which)
{
	__u32 key = which;
	__u64 *value = bpf_map_lookup_elem(&counters, &key);

	if (value)
		*value += 1;
}
