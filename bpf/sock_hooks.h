/* Socket-level hooks: who owns each socket, and where it first asked to go. */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/egress.h"
#include "bpf/maps.h"
#include "bpf/packet.h"

#ifndef SOCK_RAW
#define SOCK_RAW 3
#endif

static __always_inline void record_owner(struct bpf_sock *sk)
{
	struct cgfw_sock_owner *owner;
	__u64 pid_tgid;

	if (!sk)
		return;
	owner = bpf_sk_storage_get(&sock_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!owner) {
		count(CGFW_COUNTER_MAP_UPDATE_FAILED);
		return;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	owner->tgid = pid_tgid >> 32;
	owner->pid = (__u32)pid_tgid;
	bpf_get_current_comm(owner->comm, sizeof(owner->comm));
}

/* Raw sockets would step around every proxy and port check: refused at creation. */
static __always_inline int handle_sock_create(struct bpf_sock *sk)
{
	if (sk->type == SOCK_RAW) {
		count(CGFW_COUNTER_RAW_REFUSED);
		return 0;
	}
	record_owner(sk);
	return 1;
}

static __always_inline int is_v4_mapped(const __u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0xffff);
}

/* Remembers the destination a socket asked for, keyed by cookie, before any redirect. */
static __always_inline void record_destination(struct bpf_sock_addr *ctx, int family,
					       struct cgfw_original_dest *out)
{
	struct cgfw_original_dest dest = {};
	__u64 cookie = bpf_get_socket_cookie(ctx);

	dest.port = bpf_ntohs((__u16)ctx->user_port);
	dest.protocol = ctx->protocol;
	dest.tgid = bpf_get_current_pid_tgid() >> 32;
	if (family == AF_INET) {
		__u32 ip4 = ctx->user_ip4;

		dest.family = AF_INET;
		__builtin_memcpy(dest.addr, &ip4, 4);
	} else {
		/* One 32-bit load per word: see local_endpoint_of() in sockops.h. */
		__u32 ip6[4];

		for (int i = 0; i < 4; i++)
			ip6[i] = *(volatile __u32 *)&ctx->user_ip6[i];

		if (is_v4_mapped(ip6)) {
			/* A dual-stack socket sends IPv4 packets to a mapped address: treat it as
			 * IPv4. */
			dest.family = AF_INET;
			__builtin_memcpy(dest.addr, &ip6[3], 4);
		} else {
			dest.family = AF_INET6;
			__builtin_memcpy(dest.addr, ip6, 16);
		}
	}
	if (bpf_map_update_elem(&original_dests, &cookie, &dest, BPF_ANY))
		count(CGFW_COUNTER_MAP_UPDATE_FAILED);
	*out = dest;
}

enum cgfw_sock_call {
	CGFW_CALL_CONNECT,
	CGFW_CALL_SENDMSG,
};

/* connect()/sendmsg(): the same decision as the egress program, taken before any packet, so a
 * refused TCP connect() fails at once with EPERM instead of retrying SYNs until it times out.
 * A UDP connect() sends nothing (ping and glibc's address sorting use it as a route probe): it
 * is only recorded; its packets are judged when sent. The egress program checks every packet. */
static __always_inline int handle_sock_addr(struct bpf_sock_addr *ctx, int family,
					    enum cgfw_sock_call call)
{
	struct cgfw_original_dest dest;
	struct cgfw_flow_origin origin = {};
	struct cgfw_packet pkt = {};
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	record_owner(ctx->sk);
	record_destination(ctx, family, &dest);
	if (call == CGFW_CALL_CONNECT && dest.protocol != IPPROTO_TCP)
		return 1;

	origin.cookie = bpf_get_socket_cookie(ctx);
	origin.tgid = pid_tgid >> 32;
	origin.pid = (__u32)pid_tgid;
	bpf_get_current_comm(origin.comm, sizeof(origin.comm));
	pkt.family = dest.family;
	pkt.protocol = dest.protocol;
	pkt.dport = dest.port;
	__builtin_memcpy(pkt.daddr, dest.addr, 16);
	return enforce(&origin, &pkt, 0);
}
