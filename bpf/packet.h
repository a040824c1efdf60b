/* Reading the IP and transport headers of an egress skb (cgroup_skb: data starts at the IP
 * header). Every load is checked: a failed read is a malformed packet, never "assume zeros". */
#pragma once

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/cgfw_shared.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define CGFW_IPV6_MAX_EXT_HEADERS 4

struct cgfw_packet {
	__u8 family;
	__u8 protocol;
	__u16 sport; /* host byte order; 0 for protocols without ports */
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Reads TCP/UDP ports at `offset`. Other protocols carry no ports. Returns 0 or a reason. */
static __always_inline int read_ports(struct __sk_buff *skb, __u32 offset, struct cgfw_packet *pkt)
{
	__be16 ports[2];

	if (pkt->protocol != IPPROTO_TCP && pkt->protocol != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, offset, ports, sizeof(ports)) < 0)
		return CGFW_REASON_MALFORMED;
	pkt->sport = bpf_ntohs(ports[0]);
	pkt->dport = bpf_ntohs(ports[1]);
	return 0;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct cgfw_packet *pkt)
{
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return CGFW_REASON_MALFORMED;
	if (ip.version != 4 || ip.ihl < 5)
		return CGFW_REASON_MALFORMED;
	pkt->family = AF_INET;
	pkt->protocol = ip.protocol;
	__builtin_memcpy(pkt->saddr, &ip.saddr, 4);
	__builtin_memcpy(pkt->daddr, &ip.daddr, 4);
	/* A non-first fragment has no transport header to check. */
	if (ip.frag_off & bpf_htons(0x1fff))
		return CGFW_REASON_FRAGMENT;
	return read_ports(skb, (__u32)ip.ihl * 4, pkt);
}

static __always_inline int is_ipv6_ext_header(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct cgfw_packet *pkt)
{
	struct ipv6hdr ip6;
	__u32 offset = sizeof(ip6);
	__u8 nexthdr;

	if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
		return CGFW_REASON_MALFORMED;
	if (ip6.version != 6)
		return CGFW_REASON_MALFORMED;
	pkt->family = AF_INET6;
	__builtin_memcpy(pkt->saddr, &ip6.saddr, 16);
	__builtin_memcpy(pkt->daddr, &ip6.daddr, 16);
	nexthdr = ip6.nexthdr;

	/* Walk a bounded chain of the option headers a local stack may emit; anything longer,
	 * fragments, and unknown headers are refused rather than guessed at. */
	for (int i = 0; i < CGFW_IPV6_MAX_EXT_HEADERS; i++) {
		__u8 ext[2];

		if (!is_ipv6_ext_header(nexthdr))
			break;
		if (bpf_skb_load_bytes(skb, offset, ext, sizeof(ext)) < 0)
			return CGFW_REASON_MALFORMED;
		nexthdr = ext[0];
		offset += ((__u32)ext[1] + 1) * 8;
	}
	pkt->protocol = nexthdr;
	if (nexthdr == IPPROTO_FRAGMENT)
		return CGFW_REASON_FRAGMENT;
	if (is_ipv6_ext_header(nexthdr))
		return CGFW_REASON_IPV6_EXT;
	return read_ports(skb, offset, pkt);
}

/* Fills `pkt`; returns 0, or the reason the packet cannot be judged on its headers. */
static __always_inline int parse_packet(struct __sk_buff *skb, struct cgfw_packet *pkt)
{
	__u8 first;

	if (bpf_skb_load_bytes(skb, 0, &first, 1) < 0)
		return CGFW_REASON_MALFORMED;
	switch (first >> 4) {
	case 4:
		return parse_ipv4(skb, pkt);
	case 6:
		return parse_ipv6(skb, pkt);
	default:
		return CGFW_REASON_MALFORMED;
	}
}
