/* Run configuration, set by the runner in the skeleton's rodata before load (never recompiled):
 * the verifier sees them as constants and prunes the branches a run does not use. */
#pragma once

#include <linux/types.h>

/* 1: loopback destinations are judged by the rules like any other; 0: allowed and reported. */
const volatile __u8 cfg_police_loopback = 0;
/* The DNS proxy's port on 127.0.0.1 and on [::1] (TCP and UDP alike); 0: no DNS proxy. */
const volatile __u16 cfg_dns_port4 = 0;
const volatile __u16 cfg_dns_port6 = 0;
/* The TLS/HTTP proxy's port on 127.0.0.1 and on [::1]; 0: HTTP/TLS ports are not redirected. */
const volatile __u16 cfg_web_port4 = 0;
const volatile __u16 cfg_web_port6 = 0;
/* The socket cookie of cgfw's own network namespace (SO_NETNS_COOKIE); 0: namespaces are not
 * told apart (tests of single programs). Sockets in any other namespace reach the proxies
 * through that namespace's netns_proxies entry, or not at all. */
const volatile __u64 cfg_home_netns = 0;
/* The level (the root cgroup is 0) of a guarded slice's children (--containers-slice); 0: no
 * slice is guarded (the guard program is not loaded). */
const volatile __u32 cfg_slice_child_level = 0;
