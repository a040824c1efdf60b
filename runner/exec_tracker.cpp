#include "runner/exec_tracker.h"

#include <cerrno>
#include <cstring>

#include <bpf/libbpf.h>

#include "bpf/cgfw_shared.h"
#include "cgfw_exec.skel.h"

namespace cgfw::runner {
namespace {

int on_exec_event(void* context, void* data, size_t size) {
  if (size < sizeof(cgfw_exec_event)) return 0;
  const auto* raw = static_cast<const cgfw_exec_event*>(data);
  ExecRecord record;
  record.tgid = static_cast<int>(raw->tgid);
  record.ppid = static_cast<int>(raw->ppid);
  record.comm.assign(raw->comm, strnlen(raw->comm, sizeof(raw->comm)));
  record.filename.assign(raw->filename, strnlen(raw->filename, sizeof(raw->filename)));
  std::size_t length = std::min<std::size_t>(raw->args_len, sizeof(raw->args));
  std::size_t start = 0;
  while (start < length) {
    const char* begin = raw->args + start;
    std::size_t n = strnlen(begin, length - start);
    record.argv.emplace_back(begin, n);
    if (start + n >= length && raw->args[length - 1] != '\0') record.argv_truncated = true;
    start += n + 1;
  }
  (*static_cast<ExecHandler*>(context))(record);
  return 0;
}

}  // namespace

static_assert(kExecTrackerMaxCgroups == CGFW_EXEC_MAX_CGROUPS);

Result<std::unique_ptr<ExecTracker>> ExecTracker::make(const std::vector<int>& cgroup_fds,
                                                       ExecHandler handler) {
  if (cgroup_fds.size() > kExecTrackerMaxCgroups)
    return make_error("the exec tracker follows at most " + std::to_string(kExecTrackerMaxCgroups) +
                      " cgroups, not " + std::to_string(cgroup_fds.size()));
  std::unique_ptr<ExecTracker> tracker(new ExecTracker());
  tracker->handler_ = std::move(handler);
  tracker->skel_ = cgfw_exec_bpf__open_and_load();
  if (!tracker->skel_)
    return make_error(std::string("cannot load the exec tracker (") + std::strerror(errno) +
                      "): the kernel needs BTF (CONFIG_DEBUG_INFO_BTF)");
  for (__u32 key = 0; key < cgroup_fds.size(); ++key) {
    auto fd = static_cast<__u32>(cgroup_fds[key]);
    if (bpf_map__update_elem(tracker->skel_->maps.sandbox_cgroup, &key, sizeof(key), &fd,
                             sizeof(fd), BPF_ANY) != 0)
      return make_error(std::string("cannot set the exec tracker's cgroups: ") +
                        std::strerror(errno));
  }
  if (cgfw_exec_bpf__attach(tracker->skel_) != 0)
    return make_error(std::string("cannot attach the exec tracker: ") + std::strerror(errno));
  tracker->ring_ = ring_buffer__new(bpf_map__fd(tracker->skel_->maps.exec_events), on_exec_event,
                                    &tracker->handler_, nullptr);
  if (!tracker->ring_)
    return make_error(std::string("cannot open the exec ring buffer: ") + std::strerror(errno));
  return tracker;
}

ExecTracker::~ExecTracker() {
  if (ring_) ring_buffer__free(ring_);
  if (skel_) cgfw_exec_bpf__destroy(skel_);
}

int ExecTracker::epoll_fd() const { return ring_buffer__epoll_fd(ring_); }
int ExecTracker::consume() { return ring_buffer__consume(ring_); }
std::uint64_t ExecTracker::lost() const { return skel_->bss->exec_events_lost; }

}  // namespace cgfw::runner
