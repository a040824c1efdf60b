/* The egress decision: per packet, allowed if the destination is in the allow tries with a
 * matching port range (or is loopback under the loopback policy); reported once per flow. */
#pragma once

#include "bpf/config.h"
#include "bpf/maps.h"
#include "bpf/packet.h"

struct cgfw_decision {
	__u8 verdict;
	__u8 reason;
	__u32 rule_id;
};

static __always_inline int is_loopback(const struct cgfw_packet *pkt)
{
	if (pkt->family == AF_INET)
		return pkt->daddr[0] == 127;
	for (int i = 0; i < 15; i++)
		if (pkt->daddr[i])
			return 0;
	return pkt->daddr[15] == 1;
}

/* The longest prefix of an LPM trie pair (allow_v4/v6 or deny_v4/v6) covering the destination. */
static __always_inline struct cgfw_port_set *lookup_prefix(void *trie_v4, void *trie_v6,
							   const struct cgfw_packet *pkt)
{
	if (pkt->family == AF_INET) {
		struct cgfw_lpm_key_v4 key = {.prefix_len = 32};

		__builtin_memcpy(key.addr, pkt->daddr, 4);
		return bpf_map_lookup_elem(trie_v4, &key);
	}
	struct cgfw_lpm_key_v6 key = {.prefix_len = 128};

	__builtin_memcpy(key.addr, pkt->daddr, 16);
	return bpf_map_lookup_elem(trie_v6, &key);
}

static __always_inline __u32 run_mode(void)
{
	__u32 key = CGFW_CONTROL_KEY_MODE;
	__u32 *mode = bpf_map_lookup_elem(&control, &key);

	return mode ? *mode : 0;
}

static __always_inline struct cgfw_port_set *lookup_learned(const struct cgfw_packet *pkt)
{
	if (pkt->family == AF_INET) {
		__u32 key;

		__builtin_memcpy(&key, pkt->daddr, 4);
		return bpf_map_lookup_elem(&learned_v4, &key);
	}
	struct cgfw_addr6 key;

	__builtin_memcpy(key.addr, pkt->daddr, 16);
	return bpf_map_lookup_elem(&learned_v6, &key);
}

/* Sets an ALLOW decision if a range of `set` matches; leaves `d` untouched otherwise. */
static __always_inline void match_ports(const struct cgfw_port_set *set,
					const struct cgfw_packet *pkt, struct cgfw_decision *d)
{
	__u8 transport = pkt->protocol == IPPROTO_TCP ? CGFW_TRANSPORT_TCP : CGFW_TRANSPORT_UDP;

	for (int i = 0; i < CGFW_MAX_PORT_RANGES; i++) {
		const struct cgfw_port_range *range = &set->ranges[i];

		if (i >= set->count)
			break;
		if (range->transport == transport && pkt->dport >= range->first &&
		    pkt->dport <= range->last) {
			d->verdict = CGFW_VERDICT_ALLOW;
			d->reason = CGFW_REASON_RULE;
			d->rule_id = range->rule_id;
			return;
		}
	}
}

/* Sets a DENIED decision when a deny rule's range covers the packet; returns 1 then. */
static __always_inline int denied(const struct cgfw_packet *pkt, struct cgfw_decision *d)
{
	struct cgfw_decision match = {.verdict = CGFW_VERDICT_BLOCK};
	struct cgfw_port_set *set = lookup_prefix(&deny_v4, &deny_v6, pkt);

	if (!set)
		return 0;
	match_ports(set, pkt, &match); /* ALLOW here means "a range matches" */
	if (match.verdict != CGFW_VERDICT_ALLOW)
		return 0;
	d->verdict = CGFW_VERDICT_BLOCK;
	d->reason = CGFW_REASON_DENIED;
	d->rule_id = match.rule_id;
	return 1;
}

/* Deny tries first (deny wins); then an address is allowed by a static IP rule (LPM tries) or
 * because an allowed name resolved to it (learned maps); either may carry the matching port
 * range. What nothing covers passes only when the run allows by default (deny rules only). */
__attribute__((noinline)) int decide(const struct cgfw_packet *pkt, int parse_error,
				     struct cgfw_decision *d)
{
	struct cgfw_port_set *learned;
	struct cgfw_port_set *set;
	__u32 mode;

	if (!pkt || !d)
		return 0;
	d->verdict = CGFW_VERDICT_BLOCK;
	d->rule_id = CGFW_NO_RULE;
	if (parse_error) {
		d->reason = parse_error;
	} else if (!cfg_police_loopback && is_loopback(pkt)) {
		d->verdict = CGFW_VERDICT_ALLOW;
		d->reason = CGFW_REASON_LOOPBACK;
	} else if (pkt->protocol != IPPROTO_TCP && pkt->protocol != IPPROTO_UDP) {
		d->reason = CGFW_REASON_PROTOCOL;
	} else if (denied(pkt, d)) {
		/* deny wins: no allow rule is even looked at */
	} else {
		d->reason = CGFW_REASON_NO_RULE;
		learned = lookup_learned(pkt);
		if (learned) {
			d->reason = CGFW_REASON_PORT;
			match_ports(learned, pkt, d);
		}
		set = lookup_prefix(&allow_v4, &allow_v6, pkt);
		if (set && d->verdict != CGFW_VERDICT_ALLOW) {
			d->reason = CGFW_REASON_PORT;
			match_ports(set, pkt, d);
		}
	}
	mode = run_mode();
	if (d->verdict == CGFW_VERDICT_BLOCK && d->reason == CGFW_REASON_NO_RULE &&
	    (mode & CGFW_MODE_DEFAULT_ALLOW)) {
		d->verdict = CGFW_VERDICT_ALLOW;
		d->reason = CGFW_REASON_DEFAULT;
	}
	if (d->verdict == CGFW_VERDICT_BLOCK && (mode & CGFW_MODE_AUDIT))
		d->verdict = CGFW_VERDICT_AUDIT;
	return d->verdict;
}

/* Who a flow belongs to: the socket and the process that owns it. */
struct cgfw_flow_origin {
	__u64 cookie;
	__u32 tgid;
	__u32 pid;
	char comm[CGFW_COMM_LEN];
	__u64 cgroup_id;
};

static __always_inline struct cgfw_sock_owner *origin_of_packet(struct __sk_buff *skb,
								struct cgfw_flow_origin *origin)
{
	struct cgfw_sock_owner *owner = 0;
	struct bpf_sock *sk = skb->sk;

	origin->cookie = bpf_get_socket_cookie(skb);
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk)
		owner = bpf_sk_storage_get(&sock_owner, sk, 0, 0);
	if (owner) {
		origin->tgid = owner->tgid;
		origin->pid = owner->pid;
		origin->cgroup_id = owner->cgroup_id;
		__builtin_memcpy(origin->comm, owner->comm, CGFW_COMM_LEN);
	} else {
		origin->cgroup_id = bpf_skb_cgroup_id(skb);
	}
	return owner;
}

/* Reports the flow unless it was reported already. Returns 0 when the flow is on record, -1 when
 * the event could not be written (the caller decides what passes then). */
static __always_inline int report_flow(const struct cgfw_flow_origin *origin,
				       const struct cgfw_packet *pkt, const struct cgfw_decision *d)
{
	struct cgfw_flow_key key = {};
	struct cgfw_flow_event *event;
	__u8 one = 1;

	key.cookie = origin->cookie;
	__builtin_memcpy(key.daddr, pkt->daddr, 16);
	key.dport = pkt->dport;
	key.protocol = pkt->protocol;
	key.verdict = d->verdict;
	if (bpf_map_lookup_elem(&reported_flows, &key))
		return 0;

	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event)
		return -1;
	__builtin_memset(event, 0, sizeof(*event));
	event->time_ns = bpf_ktime_get_ns();
	event->cookie = origin->cookie;
	event->tgid = origin->tgid;
	event->pid = origin->pid;
	event->cgroup_id = origin->cgroup_id;
	__builtin_memcpy(event->comm, origin->comm, CGFW_COMM_LEN);
	event->rule_id = d->rule_id;
	event->family = pkt->family;
	event->protocol = pkt->protocol;
	event->verdict = d->verdict;
	event->reason = d->reason;
	event->sport = pkt->sport;
	event->dport = pkt->dport;
	__builtin_memcpy(event->saddr, pkt->saddr, 16);
	__builtin_memcpy(event->daddr, pkt->daddr, 16);
	bpf_ringbuf_submit(event, 0);
	if (bpf_map_update_elem(&reported_flows, &key, &one, BPF_ANY))
		count(CGFW_COUNTER_MAP_UPDATE_FAILED);
	return 0;
}

/* Decides, reports and counts one flow; returns 1 to let it pass, 0 to refuse it. */
static __always_inline int enforce(const struct cgfw_flow_origin *origin,
				   const struct cgfw_packet *pkt, int parse_error,
				   struct cgfw_decision *decision)
{
	struct cgfw_decision d = {};

	decide(pkt, parse_error, &d);
	*decision = d;
	/* The ring buffer is full. A flow that would be blocked (or passed only by audit mode) must
	 * not pass unrecorded: dropped. One the rules or the loopback policy allow passes anyway,
	 * counted: refusing it would only turn a reporting gap into a broken build. */
	if (report_flow(origin, pkt, &d) < 0) {
		if (d.verdict == CGFW_VERDICT_ALLOW) {
			count(CGFW_COUNTER_ALLOWED_UNRECORDED);
			count(CGFW_COUNTER_PACKETS_ALLOWED);
			return 1;
		}
		count(CGFW_COUNTER_EVENTS_LOST);
		return 0;
	}
	switch (d.verdict) {
	case CGFW_VERDICT_ALLOW:
		count(CGFW_COUNTER_PACKETS_ALLOWED);
		return 1;
	case CGFW_VERDICT_AUDIT:
		count(CGFW_COUNTER_PACKETS_AUDITED);
		return 1;
	default:
		count(CGFW_COUNTER_PACKETS_BLOCKED);
		return 0;
	}
}

static __always_inline int same_bytes(const __u8 *a, const __u8 *b, int n)
{
	for (int i = 0; i < 16; i++)
		if (i < n && a[i] != b[i])
			return 0;
	return 1;
}

/* Traffic to one of cgfw's proxies (DNS on TCP/UDP, web on TCP) on 127.0.0.1 or [::1], or, from
 * another namespace (a container's), on the address cgfw listens on for that namespace. */
static __always_inline int is_proxy(struct __sk_buff *skb, const struct cgfw_packet *pkt)
{
	const struct cgfw_netns_proxy *via = 0;
	int v4 = pkt->family == AF_INET;
	__u16 dns_port = v4 ? cfg_dns_port4 : cfg_dns_port6;
	__u16 web_port = v4 ? cfg_web_port4 : cfg_web_port6;
	__u8 local4[4] = {127, 0, 0, 1};
	__u8 local6[16] = {};

	if (pkt->protocol != IPPROTO_TCP && pkt->protocol != IPPROTO_UDP)
		return 0;
	/* The port first: most packets go elsewhere and need no namespace lookup. */
	if (!(dns_port && pkt->dport == dns_port) &&
	    !(web_port && pkt->dport == web_port && pkt->protocol == IPPROTO_TCP))
		return 0;
	local6[15] = 1;
	if (cfg_home_netns) {
		__u64 netns = bpf_get_netns_cookie(skb);

		if (netns != cfg_home_netns) {
			via = bpf_map_lookup_elem(&netns_proxies, &netns);
			if (!via)
				return 0;
			__builtin_memcpy(local4, via->addr4, 4);
			__builtin_memcpy(local6, via->addr6, 16);
		}
	}
	if (v4)
		return same_bytes(pkt->daddr, local4, 4);
	return !(via && !via->has_v6) && same_bytes(pkt->daddr, local6, 16);
}

/* Traffic to a proxy: always passes (the proxy decides), after telling the proxy who is behind
 * the client endpoint and where the socket meant to go. */
static __always_inline int to_proxy(const struct cgfw_packet *pkt,
				    const struct cgfw_flow_origin *origin)
{
	struct cgfw_local_endpoint key = {};
	struct cgfw_proxy_client client = {};
	struct cgfw_original_dest *original;
	struct cgfw_proxy_client *known;

	__builtin_memcpy(key.addr, pkt->saddr, 16);
	key.port = pkt->sport;
	key.family = pkt->family;
	key.protocol = pkt->protocol;
	known = bpf_map_lookup_elem(&proxy_clients, &key);
	if (known && known->cookie == origin->cookie)
		return 1;
	client.cookie = origin->cookie;
	client.tgid = origin->tgid;
	client.pid = origin->pid;
	client.cgroup_id = origin->cgroup_id;
	__builtin_memcpy(client.comm, origin->comm, CGFW_COMM_LEN);
	original = bpf_map_lookup_elem(&original_dests, &origin->cookie);
	if (original)
		client.original = *original;
	if (bpf_map_update_elem(&proxy_clients, &key, &client, BPF_ANY)) {
		/* Without the record the proxy cannot attribute the query: it refuses it. */
		count(CGFW_COUNTER_MAP_UPDATE_FAILED);
	}
	return 1;
}

static __always_inline __u32 verdict_generation(void)
{
	__u32 key = CGFW_CONTROL_KEY_GENERATION;
	__u32 *generation = bpf_map_lookup_elem(&control, &key);

	return generation ? *generation : 0;
}

/* The socket's remembered verdict covers this packet: a TCP connection allowed at connect()
 * stays allowed for its life; a UDP socket's last allowed destination stays allowed until
 * something allowed may have been withdrawn (a new generation). */
static __always_inline int sticky_allowed(const struct cgfw_sock_owner *owner,
					  const struct cgfw_packet *pkt)
{
	if (!owner || !owner->allowed || owner->allowed_dport != pkt->dport)
		return 0;
	if (pkt->protocol == IPPROTO_UDP) {
		if (owner->allowed_protocol != IPPROTO_UDP ||
		    owner->allowed_generation != verdict_generation())
			return 0;
	} else if (pkt->protocol != IPPROTO_TCP) {
		return 0;
	}
	for (int i = 0; i < 16; i++)
		if (owner->allowed_daddr[i] != pkt->daddr[i])
			return 0;
	return 1;
}

/* A UDP datagram the rules allowed (and that is on record): the next one to the same place skips
 * the rule lookups and the flow check. */
static __always_inline void remember_udp_verdict(struct cgfw_sock_owner *owner,
						 const struct cgfw_packet *pkt)
{
	owner->allowed = 1;
	owner->allowed_protocol = IPPROTO_UDP;
	owner->allowed_dport = pkt->dport;
	owner->allowed_generation = verdict_generation();
	__builtin_memcpy(owner->allowed_daddr, pkt->daddr, 16);
}

/* Returns 1 to pass the packet, 0 to drop it. */
/* The watchdog saw the runner die: no proxy, no reader of events, so nothing is judged any
 * more; everything but (unpoliced) loopback is dropped until the cgroup is empty. */
static __always_inline int locked_down(void)
{
	__u32 key = CGFW_CONTROL_KEY_FLAGS;
	__u32 *flags = bpf_map_lookup_elem(&control, &key);

	return flags && (*flags & CGFW_CONTROL_LOCKDOWN);
}

static __always_inline int handle_egress(struct __sk_buff *skb)
{
	struct cgfw_flow_origin origin = {};
	struct cgfw_packet pkt = {};
	struct cgfw_sock_owner *owner;
	int parse_error = parse_packet(skb, &pkt);

	if (locked_down()) {
		if (!parse_error && !cfg_police_loopback && is_loopback(&pkt))
			return 1;
		count(CGFW_COUNTER_LOCKDOWN_DROPPED);
		return 0;
	}
	owner = origin_of_packet(skb, &origin);
	if (!parse_error && is_proxy(skb, &pkt))
		return to_proxy(&pkt, &origin);
	if (!parse_error && sticky_allowed(owner, &pkt)) {
		count(CGFW_COUNTER_PACKETS_ALLOWED);
		return 1;
	}
	struct cgfw_decision d;
	int pass = enforce(&origin, &pkt, parse_error, &d);

	if (pass && owner && !parse_error && pkt.protocol == IPPROTO_UDP &&
	    d.verdict == CGFW_VERDICT_ALLOW)
		remember_udp_verdict(owner, &pkt);
	return pass;
}
