/* Process attribution at exec time: every exec inside the sandbox cgroup is recorded with its
 * filename and argv, read from the new process's own memory as the kernel finishes exec. A
 * blocked curl may exit before user space reads /proc; its exec record remains.
 *
 * A separate object from cgfw.bpf.c because it needs kernel types (CO-RE, vmlinux.h), which
 * clash with the UAPI headers the data plane uses. tp_btf needs no tracefs mount. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "bpf/cgfw_shared.h"

char LICENSE[] SEC("license") = "GPL";

/* The sandbox cgroup (index 0) and the followed runtime cgroups after it; unused slots empty.
 * Writer: runner. Reader: cgfw_exec (subtree test). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, CGFW_EXEC_MAX_CGROUPS);
	__type(key, __u32);
	__type(value, __u32);
} sandbox_cgroup SEC(".maps");

/* Exec records. Writer: cgfw_exec. Reader: runner. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} exec_events SEC(".maps");

/* Records lost because the ring buffer was full (attribution then falls back to /proc). */
__u64 exec_events_lost = 0;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(cgfw_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct cgfw_exec_event *event;
	unsigned long arg_start, arg_end, len;
	struct mm_struct *mm;

	int inside = 0;

	for (__u32 i = 0; i < CGFW_EXEC_MAX_CGROUPS && !inside; i++)
		inside = bpf_current_task_under_cgroup(&sandbox_cgroup, i) == 1;
	if (!inside)
		return 0;
	event = bpf_ringbuf_reserve(&exec_events, sizeof(*event), 0);
	if (!event) {
		__sync_fetch_and_add(&exec_events_lost, 1);
		return 0;
	}
	event->time_ns = bpf_ktime_get_ns();
	event->tgid = bpf_get_current_pid_tgid() >> 32;
	event->ppid = BPF_CORE_READ(task, real_parent, tgid);
	event->pad = 0;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	if (bpf_probe_read_kernel_str(event->filename, sizeof(event->filename),
				      BPF_CORE_READ(bprm, filename)) < 0)
		event->filename[0] = '\0';

	mm = BPF_CORE_READ(task, mm);
	arg_start = BPF_CORE_READ(mm, arg_start);
	arg_end = BPF_CORE_READ(mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (len > CGFW_EXEC_ARGS_LEN)
		len = CGFW_EXEC_ARGS_LEN;
	if (len && bpf_probe_read_user(event->args, len, (const void *)arg_start) < 0)
		len = 0;
	event->args_len = len;
	bpf_ringbuf_submit(event, 0);
	return 0;
}
