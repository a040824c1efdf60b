/* The only header both the BPF programs and the C++ runner include: every struct that crosses
 * the kernel boundary, with explicit padding (layout checked by static_asserts on both sides and
 * by tests/unit/shared_layout_test.cpp). Fixed-size __u types only, no pointers. */
#pragma once

/* exec.bpf.c includes the kernel's generated vmlinux.h, which defines the __u types itself. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CGFW_MAX_PORT_RANGES 16
#define CGFW_NO_RULE	     0xffffffffu
#define CGFW_COMM_LEN	     16

enum cgfw_transport {
	CGFW_TRANSPORT_TCP = 1,
	CGFW_TRANSPORT_UDP = 2,
};

/* One inclusive port range and the allow rule it came from (reported back on a match). */
struct cgfw_port_range {
	__u16 first;
	__u16 last;
	__u8 transport; /* enum cgfw_transport */
	__u8 pad[3];
	__u32 rule_id;
};

/* Value of the allow tries: every port range allowed for a prefix. User space merges the ranges
 * of all covering prefixes into each entry, because an LPM lookup returns only the longest. */
struct cgfw_port_set {
	__u32 count;
	__u32 pad;
	struct cgfw_port_range ranges[CGFW_MAX_PORT_RANGES];
};

struct cgfw_lpm_key_v4 {
	__u32 prefix_len;
	__u8 addr[4];
};

struct cgfw_lpm_key_v6 {
	__u32 prefix_len;
	__u8 addr[16];
};

/* Key of the learned IPv6 map (the IPv4 one is keyed by the address as a __u32). */
struct cgfw_addr6 {
	__u8 addr[16];
};

/* Who owns a socket: set at socket creation, refreshed at connect()/sendmsg(). A TCP socket
 * whose connect() was allowed remembers that destination, so its connection outlives the DNS
 * answer that allowed it (learned addresses expire; open connections do not break). */
struct cgfw_sock_owner {
	__u32 tgid;
	__u32 pid;
	char comm[CGFW_COMM_LEN];
	__u8 allowed_daddr[16];
	__u16 allowed_dport;
	/* 1: allowed_daddr/dport were allowed: at connect() for TCP (for the connection's life),
	 * at the last datagram for UDP (while the control map's generation is unchanged). */
	__u8 allowed;
	__u8 allowed_protocol;
	__u32 allowed_generation;
	/* The cgroup v2 id of the task that last recorded the owner: names the container of a
	 * process that is gone by the time user space reads the event. */
	__u64 cgroup_id;
};

enum cgfw_verdict {
	CGFW_VERDICT_ALLOW = 1, /* a rule or the loopback policy allows it */
	CGFW_VERDICT_BLOCK = 2, /* dropped */
	CGFW_VERDICT_AUDIT =
	    3, /* would have been dropped; passed because the run is in audit mode */
};

enum cgfw_reason {
	CGFW_REASON_RULE = 1,	   /* allowed by rule_id */
	CGFW_REASON_LOOPBACK = 2,  /* allowed: loopback destination, loopback not policed */
	CGFW_REASON_NO_RULE = 3,   /* no rule covers the destination address */
	CGFW_REASON_PORT = 4,	   /* a rule covers the address but not this port/transport */
	CGFW_REASON_PROTOCOL = 5,  /* not TCP or UDP (ICMP, SCTP, ...): never allowed */
	CGFW_REASON_MALFORMED = 6, /* headers could not be read */
	CGFW_REASON_IPV6_EXT = 7,  /* IPv6 extension header chain refused */
	CGFW_REASON_FRAGMENT = 8,  /* a fragment without transport header */
	CGFW_REASON_DEVICE = 9,	   /* not a flow: an open of a device that leads out (TUN/TAP),
				    * refused; sport/dport hold the device's major/minor */
	CGFW_REASON_DENIED = 10,   /* a deny rule (rule_id) covers the destination and port */
	CGFW_REASON_DEFAULT = 11,  /* allowed: no rule covers it, the run allows by default */
	CGFW_REASON_NETNS = 12,	   /* DNS or web traffic from a network namespace (a container's)
				    * that cgfw has no proxy address for yet: refused */
};

/* One event per new flow and verdict (never per packet). */
struct cgfw_flow_event {
	__u64 time_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cookie;  /* socket cookie; 0 when the packet had no socket */
	__u32 tgid;    /* 0 when the owner is unknown */
	__u32 pid;
	__u32 rule_id;	/* CGFW_NO_RULE unless reason is CGFW_REASON_RULE or _DENIED */
	__u8 family;	/* AF_INET or AF_INET6 */
	__u8 protocol;	/* IPPROTO_* */
	__u8 verdict;	/* enum cgfw_verdict */
	__u8 reason;	/* enum cgfw_reason */
	__u16 sport;	/* host byte order */
	__u16 dport;	/* host byte order */
	__u8 saddr[16]; /* network byte order; IPv4 in the first 4 bytes */
	__u8 daddr[16];
	char comm[CGFW_COMM_LEN];
	__u32 pad;
	__u64 cgroup_id; /* the owner's cgroup v2 id (its inode number); 0 when unknown */
};

/* Key of the reported-flows LRU: a flow is reported once per (socket, destination, verdict). */
struct cgfw_flow_key {
	__u64 cookie;
	__u8 daddr[16];
	__u16 dport;
	__u8 protocol;
	__u8 verdict;
	__u32 pad;
};

/* A client socket's local endpoint: key of the sockops port map and of the proxy client map. */
struct cgfw_local_endpoint {
	__u8 addr[16];
	__u16 port; /* host byte order */
	__u8 family;
	__u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad[4];
};

/* Where a socket first asked to connect/send, before any redirection (value keyed by cookie). */
struct cgfw_original_dest {
	__u8 addr[16];
	__u16 port; /* host byte order */
	__u8 family;
	__u8 protocol;
	__u32 tgid;
};

/* Who is behind a client endpoint that talks to one of cgfw's proxies, and where it meant to go.
 * Written by the egress program as the first packet leaves the client, so it is there before
 * the proxy reads that packet: the proxy never has to guess from a 16-bit DNS id. */
struct cgfw_proxy_client {
	__u64 cookie;
	__u32 tgid;
	__u32 pid;
	char comm[CGFW_COMM_LEN];
	struct cgfw_original_dest original; /* zero when the socket was not redirected */
	__u64 cgroup_id;		    /* the owner's cgroup v2 id; 0 when unknown */
};

#define CGFW_EXEC_FILENAME_LEN 256
#define CGFW_EXEC_ARGS_LEN     512
/* The cgroups whose execs are recorded: the job's and each followed runtime's
 * (--containers-cgroup). */
#define CGFW_EXEC_MAX_CGROUPS 16

/* One exec inside the sandbox, recorded when it happens so that a process that exits before
 * user space can read /proc is still attributed. */
struct cgfw_exec_event {
	__u64 time_ns;
	__u32 tgid;
	__u32 ppid;
	__u32 args_len; /* bytes of args used: NUL-separated argv, possibly cut */
	__u32 pad;
	char comm[CGFW_COMM_LEN];
	char filename[CGFW_EXEC_FILENAME_LEN]; /* as passed to execve() */
	char args[CGFW_EXEC_ARGS_LEN];
};

/* Value of the netns_proxies map: where a network namespace other than cgfw's own (a container's)
 * reaches cgfw's proxies. The ports are the loopback listeners' (cfg_dns_port4, cfg_web_port4);
 * the address is the namespace's gateway, an address of cgfw's own namespace. */
struct cgfw_netns_proxy {
	__u8 addr4[4]; /* network byte order */
	__u8 addr6[16];
	__u8 has_v6; /* 0: IPv6 DNS and web traffic from the namespace is refused */
	__u8 pad[3];
};

/* Value of the redirect_ports map: what a TCP destination port is sent to the web proxy as. */
enum cgfw_port_kind {
	CGFW_PORT_HTTP = 1,
	CGFW_PORT_TLS = 2,
};

/* Keys of the control map. */
enum cgfw_control_key {
	CGFW_CONTROL_KEY_FLAGS = 0,
	/* Bumped by the runner whenever something allowed may stop being allowed (a learned address
	 * expires): a UDP socket's remembered verdict from an older generation is judged again. */
	CGFW_CONTROL_KEY_GENERATION = 1,
	/* enum cgfw_mode bits. Written by the runner at start and by `cgfw ctl mode`. */
	CGFW_CONTROL_KEY_MODE = 2,
	CGFW_CONTROL_KEYS,
};

/* What a child cgroup of a guarded slice (--containers-slice) is, in the slice_children map. */
enum cgfw_slice_child {
	CGFW_SLICE_EXEMPT = 1,	 /* there before the run, or not a container's: not cgfw's */
	CGFW_SLICE_FOLLOWED = 2, /* a container's scope: cgfw's programs are attached to it */
};

/* Bits of CGFW_CONTROL_KEY_MODE. */
enum cgfw_mode {
	CGFW_MODE_AUDIT = 1,	     /* pass what would be refused, reported as AUDIT */
	CGFW_MODE_DEFAULT_ALLOW = 2, /* only deny rules: what no rule covers passes */
};

/* Flags of the control map. */
enum cgfw_control {
	/* The runner is gone: nothing leaves but loopback (as the loopback policy allows) until
	 * the cgroup is empty. Set by the watchdog; never cleared. */
	CGFW_CONTROL_LOCKDOWN = 1,
};

enum cgfw_counter {
	CGFW_COUNTER_PACKETS_ALLOWED = 0,
	CGFW_COUNTER_PACKETS_BLOCKED,
	CGFW_COUNTER_PACKETS_AUDITED,
	CGFW_COUNTER_EVENTS_LOST, /* ring buffer full: a flow not allowed by the rules (blocked, or
				   * passed only by audit mode) was dropped instead (fail closed) */
	CGFW_COUNTER_RAW_REFUSED, /* SOCK_RAW creations refused */
	CGFW_COUNTER_MAP_UPDATE_FAILED,
	CGFW_COUNTER_DNS_REDIRECTED,   /* connect()/sendmsg() to port 53 sent to the DNS proxy */
	CGFW_COUNTER_WEB_REDIRECTED,   /* TCP connect() to an HTTP/TLS port sent to the web proxy */
	CGFW_COUNTER_DEVICES_REFUSED,  /* opens of a TUN/TAP device refused */
	CGFW_COUNTER_LOCKDOWN_DROPPED, /* packets dropped after the runner died (lockdown) */
	CGFW_COUNTER_ALLOWED_UNRECORDED, /* ring buffer full: an allowed flow passed unrecorded */
	CGFW_COUNTER_NETNS_REFUSED, /* DNS/web traffic from a namespace with no proxy address */
	CGFW_COUNTER_SLICE_UNCLASSIFIED_DROPPED, /* packets of a new cgroup below a guarded slice,
						  * dropped until the runner classified it */
	CGFW_COUNTER_MAX,
};

#ifdef __cplusplus
static_assert(sizeof(struct cgfw_port_range) == 12, "cgfw_port_range layout");
static_assert(sizeof(struct cgfw_port_set) == 8 + 12 * CGFW_MAX_PORT_RANGES,
	      "cgfw_port_set layout");
static_assert(sizeof(struct cgfw_lpm_key_v4) == 8, "cgfw_lpm_key_v4 layout");
static_assert(sizeof(struct cgfw_lpm_key_v6) == 20, "cgfw_lpm_key_v6 layout");
static_assert(sizeof(struct cgfw_sock_owner) == 56, "cgfw_sock_owner layout");
static_assert(sizeof(struct cgfw_proxy_client) == 64, "cgfw_proxy_client layout");
static_assert(sizeof(struct cgfw_flow_event) == 96, "cgfw_flow_event layout");
static_assert(sizeof(struct cgfw_flow_key) == 32, "cgfw_flow_key layout");
static_assert(sizeof(struct cgfw_local_endpoint) == 24, "cgfw_local_endpoint layout");
static_assert(sizeof(struct cgfw_original_dest) == 24, "cgfw_original_dest layout");
static_assert(sizeof(struct cgfw_netns_proxy) == 24, "cgfw_netns_proxy layout");
static_assert(sizeof(struct cgfw_exec_event) == 24 + 16 + 256 + 512, "cgfw_exec_event layout");
#else
_Static_assert(sizeof(struct cgfw_flow_event) == 96, "cgfw_flow_event layout");
_Static_assert(sizeof(struct cgfw_port_set) == 8 + 12 * CGFW_MAX_PORT_RANGES,
	       "cgfw_port_set layout");
#endif
