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

static __always_inline struct cgfw_sock_owner *record_owner(struct bpf_sock *sk)
{
	struct cgfw_sock_owner *owner;
	__u64 pid_tgid;

	if (!sk)
		return 0;
	owner = bpf_sk_storage_get(&sock_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!owner) {
		count(CGFW_COUNTER_MAP_UPDATE_FAILED);
		return 0;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	owner->tgid = pid_tgid >> 32;
	owner->pid = (__u32)pid_tgid;
	owner->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(owner->comm, sizeof(owner->comm));
	return owner;
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

/* Where the socket's network namespace reaches cgfw's proxies: 0 for cgfw's own namespace
 * (loopback); for another one (a container's) its netns_proxies entry, 0 when it has none yet,
 * with *foreign set either way. */
static __always_inline const struct cgfw_netns_proxy *netns_proxy_of(struct bpf_sock_addr *ctx,
								     int *foreign)
{
	__u64 netns;

	*foreign = 0;
	if (!cfg_home_netns)
		return 0;
	netns = bpf_get_netns_cookie(ctx);
	if (netns == cfg_home_netns)
		return 0;
	*foreign = 1;
	return bpf_map_lookup_elem(&netns_proxies, &netns);
}

/* Can this socket reach cgfw's proxies for `dest`? Always from cgfw's own namespace; from
 * another one once it is admitted, and for a native IPv6 destination only if its gateway has an
 * IPv6 address. */
static __always_inline int proxies_reachable(int foreign, const struct cgfw_netns_proxy *via,
					     int family, const struct cgfw_original_dest *dest)
{
	if (!foreign)
		return 1;
	return via && (family == AF_INET || dest->family == AF_INET || via->has_v6);
}

/* The proxies' addresses as the socket's namespace reaches them: loopback, or the gateway. */
static __always_inline void proxy_addresses(const struct cgfw_netns_proxy *via, __u32 *ip4,
					    __u32 ip6[4])
{
	*ip4 = bpf_htonl(0x7f000001);
	ip6[0] = 0;
	ip6[1] = 0;
	ip6[2] = 0;
	ip6[3] = bpf_htonl(1);
	if (via) {
		__builtin_memcpy(ip4, via->addr4, 4);
		__builtin_memcpy(ip6, via->addr6, 16);
	}
}

/* Points the socket at one of cgfw's proxies: 127.0.0.1:port4 for IPv4 sockets and for IPv6
 * sockets asking for an IPv4-mapped destination, [::1]:port6 otherwise; from another namespace,
 * its gateway's addresses instead of loopback. */
static __always_inline void rewrite_to_proxy(struct bpf_sock_addr *ctx, int family,
					     const struct cgfw_original_dest *dest,
					     const struct cgfw_netns_proxy *via, __u16 port4,
					     __u16 port6)
{
	__u32 ip4;
	__u32 ip6[4];

	proxy_addresses(via, &ip4, ip6);
	if (family == AF_INET) {
		ctx->user_ip4 = ip4;
		ctx->user_port = bpf_htons(port4);
	} else if (dest->family == AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = ip4;
		ctx->user_port = bpf_htons(port4);
	} else {
		ctx->user_ip6[0] = ip6[0];
		ctx->user_ip6[1] = ip6[1];
		ctx->user_ip6[2] = ip6[2];
		ctx->user_ip6[3] = ip6[3];
		ctx->user_port = bpf_htons(port6);
	}
}

/* DNS, whatever resolver it names (loopback included), goes to cgfw's DNS proxy. */
static __always_inline int is_dns_destination(const struct cgfw_original_dest *dest)
{
	if (dest->port != 53 || !cfg_dns_port4 || !cfg_dns_port6)
		return 0;
	return dest->protocol == IPPROTO_UDP || dest->protocol == IPPROTO_TCP;
}

static __always_inline int is_loopback_dest(const struct cgfw_original_dest *dest)
{
	if (dest->family == AF_INET)
		return dest->addr[0] == 127;
	for (int i = 0; i < 15; i++)
		if (dest->addr[i])
			return 0;
	return dest->addr[15] == 1;
}

/* Is this a TCP connection the web proxy should judge by name (an HTTP or TLS port)? Loopback
 * destinations stay direct unless loopback is policed. */
static __always_inline int is_web_destination(const struct cgfw_original_dest *dest)
{
	__u16 port = dest->port;

	if (!cfg_web_port4 || !cfg_web_port6 || dest->protocol != IPPROTO_TCP)
		return 0;
	if (!bpf_map_lookup_elem(&redirect_ports, &port))
		return 0;
	return cfg_police_loopback || !is_loopback_dest(dest);
}

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
	struct cgfw_decision d;
	struct cgfw_sock_owner *owner;
	const struct cgfw_netns_proxy *via;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	int foreign;
	int dns;
	int pass;

	owner = record_owner(ctx->sk);
	record_destination(ctx, family, &dest);
	via = netns_proxy_of(ctx, &foreign);
	dns = is_dns_destination(&dest);
	/* Another namespace's DNS can reach the proxy only once cgfw listens on its gateway. */
	if (dns && proxies_reachable(foreign, via, family, &dest)) {
		rewrite_to_proxy(ctx, family, &dest, via, cfg_dns_port4, cfg_dns_port6);
		count(CGFW_COUNTER_DNS_REDIRECTED);
		return 1;
	}
	if (!dns && call == CGFW_CALL_CONNECT && dest.protocol != IPPROTO_TCP)
		return 1;

	origin.cookie = bpf_get_socket_cookie(ctx);
	origin.tgid = pid_tgid >> 32;
	origin.pid = (__u32)pid_tgid;
	origin.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(origin.comm, sizeof(origin.comm));
	pkt.family = dest.family;
	pkt.protocol = dest.protocol;
	pkt.dport = dest.port;
	__builtin_memcpy(pkt.daddr, dest.addr, 16);
	if ((dns || (call == CGFW_CALL_CONNECT && is_web_destination(&dest))) &&
	    !proxies_reachable(foreign, via, family, &dest)) {
		/* The proxies are out of this namespace's reach: refused (reported, so that the
		 * runner admits the namespace), never sent where nothing judges it. */
		count(CGFW_COUNTER_NETNS_REFUSED);
		return enforce(&origin, &pkt, CGFW_REASON_NETNS, &d);
	}
	pass = enforce(&origin, &pkt, 0, &d);
	/* HTTP/TLS ports: an address nothing could allow was refused just now (fast EPERM); one a
	 * rule or a DNS answer allows goes on to the web proxy, which judges the name or URL. */
	if (pass && call == CGFW_CALL_CONNECT && is_web_destination(&dest)) {
		rewrite_to_proxy(ctx, family, &dest, via, cfg_web_port4, cfg_web_port6);
		count(CGFW_COUNTER_WEB_REDIRECTED);
		return 1;
	}
	if (owner && call == CGFW_CALL_CONNECT) {
		owner->allowed = pass && d.verdict == CGFW_VERDICT_ALLOW;
		owner->allowed_dport = dest.port;
		owner->allowed_protocol = IPPROTO_TCP;
		__builtin_memcpy(owner->allowed_daddr, dest.addr, 16);
	}
	return pass;
}

/* recvmsg(): a reply that comes from the DNS proxy is shown as coming from the resolver the
 * socket sent its query to, so stub resolvers that check the source (glibc, musl, Go) accept it. */
static __always_inline int handle_recvmsg(struct bpf_sock_addr *ctx, int family)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct cgfw_original_dest *dest;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	const struct cgfw_netns_proxy *via;
	__u32 proxy4;
	__u32 proxy6[4];
	int foreign;

	if (!cfg_dns_port4 || !cfg_dns_port6)
		return 1;
	/* The proxy's address as this namespace reaches it (see rewrite_to_proxy). */
	via = netns_proxy_of(ctx, &foreign);
	if (foreign && !via)
		return 1;
	proxy_addresses(via, &proxy4, proxy6);
	if (family == AF_INET) {
		if (port != cfg_dns_port4 || ctx->user_ip4 != proxy4)
			return 1;
	} else {
		__u32 w0 = ctx->user_ip6[0];
		__u32 w1 = ctx->user_ip6[1];
		__u32 w2 = ctx->user_ip6[2];
		__u32 w3 = ctx->user_ip6[3];
		int mapped = w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff) && w3 == proxy4 &&
			     port == cfg_dns_port4;
		int native = w0 == proxy6[0] && w1 == proxy6[1] && w2 == proxy6[2] &&
			     w3 == proxy6[3] && port == cfg_dns_port6;

		if (!(mapped || native))
			return 1;
	}
	dest = bpf_map_lookup_elem(&original_dests, &cookie);
	if (!dest || dest->port != 53)
		return 1;
	if (family == AF_INET) {
		__u32 ip4;

		if (dest->family != AF_INET)
			return 1;
		__builtin_memcpy(&ip4, dest->addr, 4);
		ctx->user_ip4 = ip4;
	} else if (dest->family == AF_INET) {
		__u32 ip4;

		__builtin_memcpy(&ip4, dest->addr, 4);
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = ip4;
	} else {
		__u32 ip6[4];

		__builtin_memcpy(ip6, dest->addr, 16);
		ctx->user_ip6[0] = ip6[0];
		ctx->user_ip6[1] = ip6[1];
		ctx->user_ip6[2] = ip6[2];
		ctx->user_ip6[3] = ip6[3];
	}
	ctx->user_port = bpf_htons(53);
	return 1;
}
