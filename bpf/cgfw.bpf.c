/* cgfw's kernel data plane: thin SEC() entry points over the inline logic in the headers. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/device.h"
#include "bpf/egress.h"
#include "bpf/slice_guard.h"
#include "bpf/sock_hooks.h"
#include "bpf/sockops.h"

char LICENSE[] SEC("license") = "GPL";

SEC("cgroup_skb/egress")
int cgfw_egress(struct __sk_buff *skb)
{
	return handle_egress(skb);
}

SEC("cgroup_skb/egress")
int cgfw_slice_guard(struct __sk_buff *skb)
{
	return handle_slice_guard(skb);
}

SEC("cgroup/sock_create")
int cgfw_sock_create(struct bpf_sock *sk)
{
	return handle_sock_create(sk);
}

SEC("cgroup/connect4")
int cgfw_connect4(struct bpf_sock_addr *ctx)
{
	return handle_sock_addr(ctx, AF_INET, CGFW_CALL_CONNECT);
}

SEC("cgroup/connect6")
int cgfw_connect6(struct bpf_sock_addr *ctx)
{
	return handle_sock_addr(ctx, AF_INET6, CGFW_CALL_CONNECT);
}

SEC("cgroup/sendmsg4")
int cgfw_sendmsg4(struct bpf_sock_addr *ctx)
{
	return handle_sock_addr(ctx, AF_INET, CGFW_CALL_SENDMSG);
}

SEC("cgroup/sendmsg6")
int cgfw_sendmsg6(struct bpf_sock_addr *ctx)
{
	return handle_sock_addr(ctx, AF_INET6, CGFW_CALL_SENDMSG);
}

SEC("cgroup/recvmsg4")
int cgfw_recvmsg4(struct bpf_sock_addr *ctx)
{
	return handle_recvmsg(ctx, AF_INET);
}

SEC("cgroup/recvmsg6")
int cgfw_recvmsg6(struct bpf_sock_addr *ctx)
{
	return handle_recvmsg(ctx, AF_INET6);
}

SEC("sockops")
int cgfw_sockops(struct bpf_sock_ops *ops)
{
	return handle_sockops(ops);
}

SEC("cgroup/dev")
int cgfw_device(struct bpf_cgroup_dev_ctx *ctx)
{
	return handle_device(ctx);
}
