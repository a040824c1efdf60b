// cgfw_escape_probe: run by the adversarial tests *inside* the sandbox to try to get traffic out by
// routes a shell script cannot take. Each subcommand makes one attempt and prints exactly one line:
// "OK <detail>" when the system calls succeeded, or "REFUSED <step> <ERRNO> <strerror>" naming the
// first step that failed; both exit 0. Bad arguments exit 2 with a usage message on stderr. Every
// wait is bounded (3 s per network step, plus a whole-process alarm) so a test never hangs.
//
// clang-format off
//   io-uring-connect IP PORT          TCP connect + send through io_uring (raw syscalls)
//   tcp-fast-open IP PORT             data in the SYN: sendto(MSG_FASTOPEN), no connect(2)
//   udp-connect-then-sendto ...       UDP connect() to an allowed peer, then sendto() elsewhere
//   udp-connect-then-sendmsg ...      the same, with sendmsg() and msg_name for the last step
//   multicast GROUP PORT [IFNAME]     UDP to a multicast group (TTL/hops 1)
//   broadcast ADDR PORT               UDP with SO_BROADCAST to a broadcast address
//   tun / tap                         open /dev/net/tun and create a TUN/TAP device
//   unshare-net IP PORT               a new user+net namespace, then TCP from there
//   unshare-net-lo IP PORT            the same after bringing up lo in the new namespace
//   inherited-fd FD                   is a descriptor leaked into the sandbox still open?
//   send-fd FD                        send on an already-connected socket leaked into it
//   cgroup-escape                     write our pid to every reachable cgroup.procs
//   connect-unix PATH                 AF_UNIX connect + request, then a read: a listener that
//                                     closes at once is REFUSED ('@' = abstract name)
//   tcp-connect IP PORT               plain connect + send: the baseline for every other route
// clang-format on

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr int kStepTimeoutMs = 3000;
constexpr unsigned kBackstopSeconds = 20;       // whole process, in case a step ignores its timeout
constexpr unsigned kChildBackstopSeconds = 12;  // the unshare child, below the parent's wait
constexpr int kChildWaitMs = 15000;
constexpr std::size_t kMaxCgroupDepth = 6;
constexpr std::size_t kMaxCgroupDirs = 2000;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- output ----------------------------------------------------------------------------------

struct Outcome {
  std::string line;
};

Outcome ok(std::string_view detail) { return {"OK " + std::string(detail)}; }

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E" + std::to_string(err);
}

Outcome refused(std::string_view step, int err) {
  return {"REFUSED " + std::string(step) + " " + errno_name(err) + " " + std::strerror(err)};
}

void print_line(const Outcome& outcome) {
  alarm(0);
  std::printf("%s\n", outcome.line.c_str());
  std::fflush(stdout);
}

extern "C" void on_backstop_alarm(int /*signal*/) {
  static constexpr char kLine[] = "REFUSED timeout ETIMEDOUT Connection timed out\n";
  [[maybe_unused]] auto written = write(STDOUT_FILENO, kLine, sizeof(kLine) - 1);
  _exit(0);
}

// ---- handles ---------------------------------------------------------------------------------

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

class Mapping {
 public:
  Mapping() = default;
  Mapping(void* addr, std::size_t size) : addr_(addr), size_(size) {}
  Mapping(Mapping&& other) noexcept
      : addr_(std::exchange(other.addr_, MAP_FAILED)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      reset();
      addr_ = std::exchange(other.addr_, MAP_FAILED);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { reset(); }

  bool valid() const { return addr_ != MAP_FAILED; }
  template <typename T>
  T* at(std::size_t offset) const {
    return reinterpret_cast<T*>(static_cast<char*>(addr_) + offset);
  }

 private:
  void reset() {
    if (addr_ != MAP_FAILED) munmap(addr_, size_);
    addr_ = MAP_FAILED;
  }
  void* addr_ = MAP_FAILED;
  std::size_t size_ = 0;
};

// ---- argument parsing ------------------------------------------------------------------------

bool all_digits(std::string_view text) {
  return !text.empty() && text.size() <= 10 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::uint16_t parse_port(std::string_view text) {
  if (!all_digits(text)) throw UsageError("port is not a number: " + std::string(text));
  unsigned long value = std::stoul(std::string(text));
  if (value < 1 || value > 65535)
    throw UsageError("port out of range 1-65535: " + std::string(text));
  return static_cast<std::uint16_t>(value);
}

int parse_fd(std::string_view text) {
  if (!all_digits(text)) throw UsageError("fd is not a number: " + std::string(text));
  unsigned long value = std::stoul(std::string(text));
  if (value > 0x7fffffffUL) throw UsageError("fd out of range: " + std::string(text));
  return static_cast<int>(value);
}

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  const in_addr& v4() const { return reinterpret_cast<const sockaddr_in&>(storage).sin_addr; }
  const in6_addr& v6() const { return reinterpret_cast<const sockaddr_in6&>(storage).sin6_addr; }
};

// An IPv4 or IPv6 literal (IPv6 may carry a %ifname or %index scope) and a port.
SockAddr parse_endpoint(std::string_view ip_text, std::string_view port_text) {
  SockAddr addr;
  std::uint16_t port = parse_port(port_text);
  std::string ip(ip_text);
  auto* sin = reinterpret_cast<sockaddr_in*>(&addr.storage);
  if (inet_pton(AF_INET, ip.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    addr.len = sizeof(sockaddr_in);
    return addr;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&addr.storage);
  std::string scope;
  if (auto percent = ip.find('%'); percent != std::string::npos) {
    scope = ip.substr(percent + 1);
    ip.resize(percent);
  }
  if (inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr) != 1) {
    throw UsageError("not an IPv4 or IPv6 address: " + std::string(ip_text));
  }
  if (!scope.empty()) {
    unsigned index = all_digits(scope) ? static_cast<unsigned>(std::stoul(scope))
                                       : if_nametoindex(scope.c_str());
    if (index == 0) throw UsageError("unknown IPv6 scope: " + scope);
    sin6->sin6_scope_id = index;
  }
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  addr.len = sizeof(sockaddr_in6);
  return addr;
}

// ---- socket helpers --------------------------------------------------------------------------

void set_timeouts(int fd) {
  timeval tv{kStepTimeoutMs / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

// A blocking socket whose sends and receives give up after kStepTimeoutMs.
Fd make_socket(int family, int type) {
  Fd fd(socket(family, type | SOCK_CLOEXEC, 0));
  if (fd.valid()) set_timeouts(fd.get());
  return fd;
}

int set_int_option(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof(value));
}

// connect(2) that gives up after kStepTimeoutMs (blocking connect would wait for the SYN retries).
std::optional<Outcome> connect_bounded(int fd, const sockaddr* addr, socklen_t len) {
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (connect(fd, addr, len) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return refused("connect", errno);
    pollfd pfd{fd, POLLOUT, 0};
    int ready = poll(&pfd, 1, kStepTimeoutMs);
    if (ready < 0) return refused("connect", errno);
    if (ready == 0) return refused("connect", ETIMEDOUT);
    int err = 0;
    socklen_t err_len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return refused("connect", err);
  }
  fcntl(fd, F_SETFL, flags);
  return std::nullopt;
}

std::string payload_for(std::string_view subcommand) {
  return "cgfw-escape-probe " + std::string(subcommand) + "\n";
}

// send(2) on a socket we did not create (its blocking mode and timeouts are not ours to rely on).
Outcome send_bounded(int fd, std::string_view data, std::string_view step) {
  ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    pollfd pfd{fd, POLLOUT, 0};
    if (poll(&pfd, 1, kStepTimeoutMs) == 0) return refused(step, ETIMEDOUT);
    sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  if (sent < 0) return refused(step, errno);
  return ok("sent=" + std::to_string(sent));
}

Outcome tcp_connect_and_send(const SockAddr& target, std::string_view payload) {
  Fd fd = make_socket(target.family(), SOCK_STREAM);
  if (!fd.valid()) return refused("socket", errno);
  if (auto refusal = connect_bounded(fd.get(), target.get(), target.len)) return *refusal;
  Outcome sent = send_bounded(fd.get(), payload, "send");
  if (sent.line.starts_with("REFUSED")) return sent;
  return ok("connected " + sent.line.substr(3));
}

// ---- subcommands -----------------------------------------------------------------------------

struct Invocation {
  std::string_view name;
  std::vector<std::string_view> args;
  std::string payload;
};

Outcome run_tcp_connect(const Invocation& inv) {
  return tcp_connect_and_send(parse_endpoint(inv.args[0], inv.args[1]), inv.payload);
}

// io_uring through raw system calls: no liburing, and so no dependency the sandbox could lack.
class IoUring {
 public:
  // Maps the rings; returns the refusal if io_uring is unavailable (sysctl, seccomp, old kernel).
  std::optional<Outcome> setup(unsigned entries) {
    io_uring_params params{};
    fd_ = Fd(static_cast<int>(syscall(__NR_io_uring_setup, entries, &params)));
    if (!fd_.valid()) return refused("io_uring_setup", errno);
    std::size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    std::size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
    bool single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single) sq_size = cq_size = std::max(sq_size, cq_size);
    sq_ = map(fd_.get(), sq_size, IORING_OFF_SQ_RING);
    if (!sq_.valid()) return refused("mmap", errno);
    if (!single) {
      cq_ = map(fd_.get(), cq_size, IORING_OFF_CQ_RING);
      if (!cq_.valid()) return refused("mmap", errno);
    }
    sqes_ = map(fd_.get(), params.sq_entries * sizeof(io_uring_sqe), IORING_OFF_SQES);
    if (!sqes_.valid()) return refused("mmap", errno);
    const Mapping& cq = single ? sq_ : cq_;
    sq_tail_ = sq_.at<unsigned>(params.sq_off.tail);
    sq_mask_ = *sq_.at<unsigned>(params.sq_off.ring_mask);
    sq_array_ = sq_.at<unsigned>(params.sq_off.array);
    local_tail_ = *sq_tail_;
    cq_head_ = cq.at<unsigned>(params.cq_off.head);
    cq_tail_ = cq.at<unsigned>(params.cq_off.tail);
    cq_mask_ = *cq.at<unsigned>(params.cq_off.ring_mask);
    cqes_ = cq.at<io_uring_cqe>(params.cq_off.cqes);
    return std::nullopt;
  }

  // Submits `op` linked to a kStepTimeoutMs timeout and returns op's result (-errno on failure).
  int run_with_timeout(const io_uring_sqe& op, std::string_view* failed_step) {
    __kernel_timespec timeout{kStepTimeoutMs / 1000, 0};
    io_uring_sqe linked = op;
    linked.flags |= IOSQE_IO_LINK;
    linked.user_data = kOpTag;
    io_uring_sqe timer{};
    timer.opcode = IORING_OP_LINK_TIMEOUT;
    timer.fd = -1;
    timer.addr = reinterpret_cast<std::uintptr_t>(&timeout);
    timer.len = 1;
    timer.user_data = kTimerTag;
    push(linked);
    push(timer);
    __atomic_store_n(sq_tail_, local_tail_, __ATOMIC_RELEASE);
    long entered;
    do {
      entered = syscall(__NR_io_uring_enter, fd_.get(), 2, 2, IORING_ENTER_GETEVENTS, nullptr, 0);
    } while (entered < 0 && errno == EINTR);
    if (entered < 0) {
      *failed_step = "io_uring_enter";
      return -errno;
    }
    int result = -ETIMEDOUT;
    bool timer_fired = false;
    for (int seen = 0; seen < 2;) {
      unsigned head = *cq_head_;
      if (head == __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE)) break;
      const io_uring_cqe& cqe = cqes_[head & cq_mask_];
      if (cqe.user_data == kOpTag) result = cqe.res;
      if (cqe.user_data == kTimerTag) timer_fired = cqe.res == -ETIME;
      __atomic_store_n(cq_head_, head + 1, __ATOMIC_RELEASE);
      ++seen;
    }
    // A fired link timeout cancels the operation; say what happened rather than ECANCELED.
    if (timer_fired && result == -ECANCELED) result = -ETIMEDOUT;
    return result;
  }

 private:
  static constexpr std::uint64_t kOpTag = 1;
  static constexpr std::uint64_t kTimerTag = 2;

  static Mapping map(int fd, std::size_t size, off_t offset) {
    return Mapping(
        mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset), size);
  }

  void push(const io_uring_sqe& sqe) {
    unsigned index = local_tail_ & sq_mask_;
    sqes_.at<io_uring_sqe>(0)[index] = sqe;
    sq_array_[index] = index;
    ++local_tail_;
  }

  Fd fd_;
  Mapping sq_, cq_, sqes_;
  unsigned* sq_tail_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned* sq_array_ = nullptr;
  unsigned local_tail_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
};

Outcome run_io_uring_connect(const Invocation& inv) {
  SockAddr target = parse_endpoint(inv.args[0], inv.args[1]);
  IoUring ring;
  if (auto refusal = ring.setup(8)) return *refusal;
  Fd fd = make_socket(target.family(), SOCK_STREAM);
  if (!fd.valid()) return refused("socket", errno);

  io_uring_sqe connect_op{};
  connect_op.opcode = IORING_OP_CONNECT;
  connect_op.fd = fd.get();
  connect_op.addr = reinterpret_cast<std::uintptr_t>(target.get());
  connect_op.off = target.len;
  std::string_view step = "connect";
  if (int res = ring.run_with_timeout(connect_op, &step); res < 0) return refused(step, -res);

  io_uring_sqe send_op{};
  send_op.opcode = IORING_OP_SEND;
  send_op.fd = fd.get();
  send_op.addr = reinterpret_cast<std::uintptr_t>(inv.payload.data());
  send_op.len = static_cast<std::uint32_t>(inv.payload.size());
  send_op.msg_flags = MSG_NOSIGNAL;
  step = "send";
  int sent = ring.run_with_timeout(send_op, &step);
  if (sent < 0) return refused(step, -sent);
  return ok("connected sent=" + std::to_string(sent));
}

Outcome run_tcp_fast_open(const Invocation& inv) {
  SockAddr target = parse_endpoint(inv.args[0], inv.args[1]);
  Fd fd = make_socket(target.family(), SOCK_STREAM);
  if (!fd.valid()) return refused("socket", errno);
  ssize_t sent = sendto(fd.get(), inv.payload.data(), inv.payload.size(),
                        MSG_FASTOPEN | MSG_NOSIGNAL, target.get(), target.len);
  // On a blocking socket the kernel waits (SO_SNDTIMEO) for the handshake when it has no TFO
  // cookie, and reports EINPROGRESS if that wait ran out: the SYN left but nothing answered.
  if (sent < 0 && errno == EINPROGRESS) return refused("sendto", ETIMEDOUT);
  if (sent < 0) return refused("sendto", errno);
  return ok("sent=" + std::to_string(sent));
}

// UDP connect() to one peer, send there, then address a second peer on the same socket.
Outcome udp_connect_then(const Invocation& inv, bool use_sendmsg) {
  SockAddr first = parse_endpoint(inv.args[0], inv.args[1]);
  SockAddr second = parse_endpoint(inv.args[2], inv.args[3]);
  if (first.family() != second.family()) {
    throw UsageError(
        "both addresses must be the same family (use ::ffff:a.b.c.d for IPv4 on IPv6)");
  }
  Fd fd = make_socket(first.family(), SOCK_DGRAM);
  if (!fd.valid()) return refused("socket", errno);
  if (connect(fd.get(), first.get(), first.len) != 0) return refused("connect", errno);
  ssize_t sent_first = send(fd.get(), inv.payload.data(), inv.payload.size(), MSG_NOSIGNAL);
  if (sent_first < 0) return refused("send", errno);

  std::string_view step = use_sendmsg ? "sendmsg" : "sendto";
  auto send_second = [&] {
    // An ICMP port-unreachable for the first datagram is reported on the next send of a connected
    // UDP socket; clear it so it is not mistaken for a refusal of the second destination.
    int pending = 0;
    socklen_t pending_len = sizeof(pending);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &pending, &pending_len);
    if (!use_sendmsg) {
      return sendto(fd.get(), inv.payload.data(), inv.payload.size(), MSG_NOSIGNAL, second.get(),
                    second.len);
    }
    iovec iov{const_cast<char*>(inv.payload.data()), inv.payload.size()};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr*>(second.get());
    msg.msg_namelen = second.len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    return sendmsg(fd.get(), &msg, MSG_NOSIGNAL);
  };
  ssize_t sent_second = send_second();
  if (sent_second < 0 && errno == ECONNREFUSED) sent_second = send_second();
  if (sent_second < 0) return refused(step, errno);
  return ok("sent-connected=" + std::to_string(sent_first) +
            " sent-other=" + std::to_string(sent_second));
}

Outcome run_udp_connect_then_sendto(const Invocation& inv) { return udp_connect_then(inv, false); }
Outcome run_udp_connect_then_sendmsg(const Invocation& inv) { return udp_connect_then(inv, true); }

Outcome run_multicast(const Invocation& inv) {
  SockAddr group = parse_endpoint(inv.args[0], inv.args[1]);
  bool v4 = group.family() == AF_INET;
  if (v4 ? !IN_MULTICAST(ntohl(group.v4().s_addr)) : !IN6_IS_ADDR_MULTICAST(&group.v6())) {
    throw UsageError("not a multicast group: " + std::string(inv.args[0]));
  }
  unsigned ifindex = 0;
  if (inv.args.size() > 2) {
    ifindex = if_nametoindex(std::string(inv.args[2]).c_str());
    if (ifindex == 0) return refused("if_nametoindex", errno);
  }
  Fd fd = make_socket(group.family(), SOCK_DGRAM);
  if (!fd.valid()) return refused("socket", errno);
  if (v4) {
    if (set_int_option(fd.get(), IPPROTO_IP, IP_MULTICAST_TTL, 1) != 0) {
      return refused("IP_MULTICAST_TTL", errno);
    }
    ip_mreqn mreq{};
    mreq.imr_ifindex = static_cast<int>(ifindex);
    if (ifindex != 0 && setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq))) {
      return refused("IP_MULTICAST_IF", errno);
    }
  } else {
    if (set_int_option(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1) != 0) {
      return refused("IPV6_MULTICAST_HOPS", errno);
    }
    if (ifindex != 0 &&
        set_int_option(fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(ifindex))) {
      return refused("IPV6_MULTICAST_IF", errno);
    }
    auto& scope = reinterpret_cast<sockaddr_in6&>(group.storage).sin6_scope_id;
    if (scope == 0) scope = ifindex;
    ifindex = scope;
  }
  ssize_t sent = sendto(fd.get(), inv.payload.data(), inv.payload.size(), MSG_NOSIGNAL, group.get(),
                        group.len);
  if (sent < 0) return refused("sendto", errno);
  return ok("sent=" + std::to_string(sent) + " ifindex=" + std::to_string(ifindex));
}

Outcome run_broadcast(const Invocation& inv) {
  SockAddr target = parse_endpoint(inv.args[0], inv.args[1]);
  if (target.family() != AF_INET) throw UsageError("broadcast needs an IPv4 address");
  Fd fd = make_socket(AF_INET, SOCK_DGRAM);
  if (!fd.valid()) return refused("socket", errno);
  if (set_int_option(fd.get(), SOL_SOCKET, SO_BROADCAST, 1) != 0) {
    return refused("SO_BROADCAST", errno);
  }
  ssize_t sent = sendto(fd.get(), inv.payload.data(), inv.payload.size(), MSG_NOSIGNAL,
                        target.get(), target.len);
  if (sent < 0) return refused("sendto", errno);
  return ok("sent=" + std::to_string(sent));
}

// Not persistent: closing the descriptor removes the device again.
Outcome create_tun_device(short kind) {
  Fd fd(open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return refused("open", errno);
  ifreq request{};
  request.ifr_flags = static_cast<short>(kind | IFF_NO_PI);
  std::strncpy(request.ifr_name, "cgfwprobe%d", IFNAMSIZ - 1);
  if (ioctl(fd.get(), TUNSETIFF, &request) != 0) return refused("TUNSETIFF", errno);
  return ok(request.ifr_name);
}

Outcome run_tun(const Invocation& /*inv*/) { return create_tun_device(IFF_TUN); }
Outcome run_tap(const Invocation& /*inv*/) { return create_tun_device(IFF_TAP); }

std::optional<Outcome> bring_up_loopback() {
  Fd fd = make_socket(AF_INET, SOCK_DGRAM);
  if (!fd.valid()) return refused("ifup", errno);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) return refused("ifup", errno);
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (ioctl(fd.get(), SIOCSIFFLAGS, &request) != 0) return refused("ifup", errno);
  return std::nullopt;
}

// Runs in the forked child, whose stdout is the pipe to the parent.
Outcome connect_from_new_netns(const SockAddr& target, bool bring_up_lo, std::string_view payload) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) return refused("unshare", errno);
  std::optional<Outcome> ifup_refusal;
  if (bring_up_lo) ifup_refusal = bring_up_loopback();  // best effort: connect regardless
  Outcome outcome = tcp_connect_and_send(target, payload);
  if (!outcome.line.starts_with("OK")) return ifup_refusal ? *ifup_refusal : outcome;
  if (bring_up_lo) outcome.line += ifup_refusal ? " lo=down" : " lo=up";
  return outcome;
}

// The attempt runs in a child so the probe itself keeps its namespaces; the parent relays the
// child's one line, or reports why there was none.
Outcome run_in_new_netns(const Invocation& inv, bool bring_up_lo) {
  SockAddr target = parse_endpoint(inv.args[0], inv.args[1]);
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return refused("pipe", errno);
  Fd read_end(ends[0]);
  Fd write_end(ends[1]);
  pid_t child = fork();
  if (child < 0) return refused("fork", errno);
  if (child == 0) {
    dup2(write_end.get(), STDOUT_FILENO);
    alarm(kChildBackstopSeconds);
    print_line(connect_from_new_netns(target, bring_up_lo, inv.payload));
    _exit(0);
  }
  write_end.reset();
  std::string line;
  pollfd pfd{read_end.get(), POLLIN, 0};
  bool timed_out = false;
  while (line.find('\n') == std::string::npos) {
    int ready = poll(&pfd, 1, kChildWaitMs);
    if (ready == 0) timed_out = true;
    if (ready <= 0) break;
    std::array<char, 512> buffer{};
    ssize_t got = read(read_end.get(), buffer.data(), buffer.size());
    if (got <= 0) break;
    line.append(buffer.data(), static_cast<std::size_t>(got));
  }
  if (timed_out) kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (auto newline = line.find('\n'); newline != std::string::npos) {
    return {line.substr(0, newline)};
  }
  return refused("child", timed_out ? ETIMEDOUT : ECHILD);
}

Outcome run_unshare_net(const Invocation& inv) { return run_in_new_netns(inv, false); }
Outcome run_unshare_net_lo(const Invocation& inv) { return run_in_new_netns(inv, true); }

const char* file_type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFSOCK:
      return "socket";
    case S_IFREG:
      return "file";
    case S_IFIFO:
      return "fifo";
    case S_IFCHR:
      return "chr";
    case S_IFDIR:
      return "dir";
    case S_IFBLK:
      return "blk";
    case S_IFLNK:
      return "link";
    default:
      return "other";
  }
}

Outcome run_inherited_fd(const Invocation& inv) {
  int fd = parse_fd(inv.args[0]);
  if (fcntl(fd, F_GETFD) < 0) return refused("fcntl", errno);
  struct stat info {};
  if (fstat(fd, &info) != 0) return refused("fstat", errno);
  return ok(std::string("open ") + file_type_name(info.st_mode));
}

Outcome run_send_fd(const Invocation& inv) {
  return send_bounded(parse_fd(inv.args[0]), inv.payload, "send");
}

Outcome run_connect_unix(const Invocation& inv) {
  std::string_view path = inv.args[0];
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    throw UsageError("unix socket path must be 1-107 bytes");
  }
  bool abstract = path.front() == '@';
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (abstract) addr.sun_path[0] = '\0';
  // Abstract names are exactly as long as given; filesystem paths are NUL-terminated.
  auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  Fd fd = make_socket(AF_UNIX, SOCK_STREAM);
  if (!fd.valid()) return refused("socket", errno);
  if (auto refusal = connect_bounded(fd.get(), reinterpret_cast<sockaddr*>(&addr), len)) {
    return *refusal;
  }
  Outcome sent = send_bounded(fd.get(), "GET /_ping HTTP/1.0\r\n\r\n", "send");
  if (sent.line.starts_with("REFUSED")) return sent;
  // A listener that closes at once (cgfw's trap over a hidden socket) is a refusal too; one that
  // keeps the connection open (a daemon, slow or not) is not.
  pollfd pfd{fd.get(), POLLIN, 0};
  if (poll(&pfd, 1, 1000) > 0) {
    char byte;
    ssize_t got = recv(fd.get(), &byte, 1, MSG_DONTWAIT);
    if (got == 0) return {"REFUSED read EOF closed at once"};
    if (got < 0 && errno != EAGAIN) return refused("read", errno);  // ECONNRESET: closed unread
  }
  return ok("connected");
}

// ---- cgroup-escape ---------------------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string own_cgroup_v2_line() {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("0::")) return line;
  }
  return "none";
}

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string unescape_mountinfo(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      std::string_view octal = field.substr(i + 1, 3);
      if (std::all_of(octal.begin(), octal.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out += static_cast<char>(std::stoi(std::string(octal), nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

std::vector<std::string> cgroup2_mount_points() {
  std::vector<std::string> mounts;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    auto separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::string_view tail = std::string_view(line).substr(separator + 3);
    if (tail.substr(0, tail.find(' ')) != "cgroup2") continue;
    // Fields before the separator: id parent major:minor root mount-point ...
    std::string_view head = std::string_view(line).substr(0, separator);
    std::size_t start = 0;
    for (int field = 0; field < 4 && start != std::string_view::npos; ++field) {
      start = head.find(' ', start);
      if (start != std::string_view::npos) ++start;
    }
    if (start == std::string_view::npos) continue;
    mounts.push_back(unescape_mountinfo(head.substr(start, head.find(' ', start) - start)));
  }
  return mounts;
}

class CgroupEscape {
 public:
  CgroupEscape() : pid_(std::to_string(getpid())), initial_(own_cgroup_v2_line()) {}

  void walk(const std::string& dir, std::size_t depth) {
    if (dirs_seen_ >= kMaxCgroupDirs) return;
    ++dirs_seen_;
    try_procs(dir + "/cgroup.procs", dir);
    if (depth >= kMaxCgroupDepth) return;
    DIR* stream = opendir(dir.c_str());
    if (stream == nullptr) return;
    std::vector<std::string> children;
    while (dirent* entry = readdir(stream)) {
      std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      bool is_dir = entry->d_type == DT_DIR;
      if (entry->d_type == DT_UNKNOWN) {
        struct stat info {};
        is_dir = fstatat(dirfd(stream), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
                 S_ISDIR(info.st_mode);
      }
      if (is_dir) children.push_back(dir + "/" + std::string(name));
    }
    closedir(stream);
    for (const auto& child : children) walk(child, depth + 1);
  }

  // Paths outside our mount namespace, through pid 1's root.
  void try_path(const std::string& procs) { try_procs(procs, ""); }

  Outcome outcome(std::size_t mounts) const {
    if (moved_) return ok("moved-to " + moved_->first + " " + moved_->second);
    return {"REFUSED cgroup-escape still=" + initial_ + " tried=" + std::to_string(tried_) +
            " written=" + std::to_string(written_) + " mounts=" + std::to_string(mounts)};
  }

 private:
  // A frozen cgroup would stop the probe for good, so it is not a destination worth trying.
  static bool frozen(const std::string& dir) {
    if (dir.empty()) return false;
    return read_file(dir + "/cgroup.freeze").starts_with("1") ||
           read_file(dir + "/cgroup.events").find("frozen 1") != std::string::npos;
  }

  void try_procs(const std::string& procs, const std::string& dir) {
    if (access(procs.c_str(), F_OK) != 0 && errno == ENOENT) return;
    if (frozen(dir)) return;
    ++tried_;
    Fd fd(open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return;
    if (write(fd.get(), pid_.data(), pid_.size()) != static_cast<ssize_t>(pid_.size())) return;
    ++written_;
    std::string now = own_cgroup_v2_line();
    if (!moved_ && now != initial_) moved_.emplace(procs, now);
  }

  std::string pid_;
  std::string initial_;
  std::size_t dirs_seen_ = 0;
  std::size_t tried_ = 0;
  std::size_t written_ = 0;
  std::optional<std::pair<std::string, std::string>> moved_;
};

Outcome run_cgroup_escape(const Invocation& /*inv*/) {
  CgroupEscape escape;
  auto mounts = cgroup2_mount_points();
  for (const auto& mount : mounts) escape.walk(mount, 0);
  escape.try_path("/proc/1/root/sys/fs/cgroup/cgroup.procs");
  escape.try_path("/proc/1/root/sys/fs/cgroup/unified/cgroup.procs");
  return escape.outcome(mounts.size());
}

// ---- dispatch --------------------------------------------------------------------------------

struct Command {
  std::string_view name;
  std::string_view arguments;
  std::size_t min_args;
  std::size_t max_args;
  Outcome (*run)(const Invocation&);
};

constexpr std::array kCommands{
    Command{"io-uring-connect", "IP PORT", 2, 2, run_io_uring_connect},
    Command{"tcp-fast-open", "IP PORT", 2, 2, run_tcp_fast_open},
    Command{"udp-connect-then-sendto", "IP1 PORT1 IP2 PORT2", 4, 4, run_udp_connect_then_sendto},
    Command{"udp-connect-then-sendmsg", "IP1 PORT1 IP2 PORT2", 4, 4, run_udp_connect_then_sendmsg},
    Command{"multicast", "GROUP PORT [IFNAME]", 2, 3, run_multicast},
    Command{"broadcast", "ADDR PORT", 2, 2, run_broadcast},
    Command{"tun", "", 0, 0, run_tun},
    Command{"tap", "", 0, 0, run_tap},
    Command{"unshare-net", "IP PORT", 2, 2, run_unshare_net},
    Command{"unshare-net-lo", "IP PORT", 2, 2, run_unshare_net_lo},
    Command{"inherited-fd", "FD", 1, 1, run_inherited_fd},
    Command{"send-fd", "FD", 1, 1, run_send_fd},
    Command{"cgroup-escape", "", 0, 0, run_cgroup_escape},
    Command{"connect-unix", "PATH", 1, 1, run_connect_unix},
    Command{"tcp-connect", "IP PORT", 2, 2, run_tcp_connect},
};

int usage(std::string_view program, std::string_view problem) {
  if (!problem.empty()) std::fprintf(stderr, "%.*s\n", int(problem.size()), problem.data());
  std::fprintf(stderr, "usage: %.*s SUBCOMMAND [ARGS]\n", int(program.size()), program.data());
  for (const auto& command : kCommands) {
    std::fprintf(stderr, "  %.*s%s%.*s\n", int(command.name.size()), command.name.data(),
                 command.arguments.empty() ? "" : " ", int(command.arguments.size()),
                 command.arguments.data());
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::span<char*> args(argv, static_cast<std::size_t>(argc));
  std::string_view program = args.empty() ? "cgfw_escape_probe" : args[0];
  if (args.size() < 2) return usage(program, "missing subcommand");
  std::string_view name = args[1];
  const auto* command = std::find_if(kCommands.begin(), kCommands.end(),
                                     [&](const Command& c) { return c.name == name; });
  if (command == kCommands.end()) return usage(program, "unknown subcommand: " + std::string(name));
  Invocation inv{name, {args.begin() + 2, args.end()}, payload_for(name)};
  if (inv.args.size() < command->min_args || inv.args.size() > command->max_args) {
    return usage(program, command->arguments.empty()
                              ? std::string(name) + " takes no arguments"
                              : std::string(name) + " takes: " + std::string(command->arguments));
  }
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction backstop {};
  backstop.sa_handler = on_backstop_alarm;
  sigaction(SIGALRM, &backstop, nullptr);
  alarm(kBackstopSeconds);
  try {
    print_line(command->run(inv));
  } catch (const UsageError& error) {
    alarm(0);
    return usage(program, error.what());
  }
  return 0;
}
