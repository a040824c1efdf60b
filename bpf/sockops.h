/* sockops: on established client sockets, local endpoint -> socket cookie, so that a proxy that
 * accepts a redirected connection can find which socket (and so which original destination and
 * process) is on the other end. Removed again when the socket closes. */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/maps.h"
#include "bpf/packet.h"

static __always_inline void local_endpoint_of(struct bpf_sock_ops *ops,
					      struct cgfw_local_endpoint *key)
{
	key->family = ops->family;
	key->protocol = IPPROTO_TCP;
	key->port = (__u16)ops->local_port;
	if (ops->family == AF_INET) {
		__u32 ip4 = ops->local_ip4;

		__builtin_memcpy(key->addr, &ip4, 4);
	} else {
		/* One 32-bit load per word: clang would merge neighbours into a 64-bit load, which
		 * the verifier refuses for this context field. */
		__u32 ip6[4];

		for (int i = 0; i < 4; i++)
			ip6[i] = *(volatile __u32 *)&ops->local_ip6[i];
		__builtin_memcpy(key->addr, ip6, 16);
	}
}

static __always_inline int handle_sockops(struct bpf_sock_ops *ops)
{
	struct cgfw_local_endpoint key = {};
	__u64 cookie;

	if (ops->family != AF_INET && ops->family != AF_INET6)
		return 1;
	switch (ops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		local_endpoint_of(ops, &key);
		cookie = bpf_get_socket_cookie(ops);
		if (bpf_map_update_elem(&client_sockets, &key, &cookie, BPF_ANY))
			count(CGFW_COUNTER_MAP_UPDATE_FAILED);
		bpf_sock_ops_cb_flags_set(ops,
					  ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (ops->args[1] == BPF_TCP_CLOSE) {
			local_endpoint_of(ops, &key);
			bpf_map_delete_elem(&client_sockets, &key);
		}
		break;
	default:
		break;
	}
	return 1;
}
