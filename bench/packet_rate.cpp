// E2: packets/s and request/response rate on loopback, for a client run bare, inside
// cgfw-sandbox and under an nftables allow list (bench/e2.sh). The servers run outside whatever is
// measured, and every mode ends by itself.
//
//   packet_rate udp-sink READY_FILE LABEL          count datagrams until 0.5 s of silence
//   packet_rate tcp-echo READY_FILE                echo one connection until it closes
//   packet_rate udp-send IP PORT SECONDS LABEL     64-byte datagrams on a connected socket
//   packet_rate tcp-rr IP PORT SECONDS LABEL       1-byte ping-pong on one TCP_NODELAY connection
//   packet_rate interleave READY_FILE GO_FILE SECONDS HOME BARE BARE2 NFT NFT_ON NFT_OFF
//
// A server binds an ephemeral port on 127.0.0.1 and writes it to READY_FILE (whole, by rename)
// once it listens. The measuring modes print JSON lines {"id":"E2","what":W,"unit":U,"value":N}:
//   udp-sink: "udp pps received, LABEL" (pps);
//   udp-send: "udp pps, LABEL" (pps) and "udp cpu ns/packet, LABEL" (ns/packet);
//   tcp-rr:   "tcp rr, LABEL" (tps) and "tcp cpu ns/transaction, LABEL" (ns/transaction);
//   interleave: see interleave() below.
// They exit 1 if anything failed: a send refused means the allow list under test is wrong, and
// the figure would be of the wrong path.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kPayload = 64;           // bytes per datagram: a small packet, so the rate is high
constexpr int kSinkBatch = 64;         // datagrams per recvmmsg(): the sink must not be the limit
constexpr int kSinkIdleMs = 500;       // silence that ends a measurement, once it has begun
constexpr int kFirstPacketMs = 30000;  // cgfw-sandbox takes ~0.5 s to start the client
constexpr int kClockEvery = 256;       // sends between two clock reads
constexpr int kUdpSlice = 1000;        // interleave: datagrams per socket per turn (~4 ms)
constexpr int kTcpSlice = 200;         // interleave: transactions per connection per turn
constexpr int kPhaseTurns = 6;         // interleave: turns between two nft toggles (~0.1 s)

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the calling thread, in ns. On loopback the sender's core also runs the receive
// softirq of what it sends, so this holds the whole per-packet path; and unlike a rate, it does
// not move when another process takes the core for a while.
double cpu_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

void print_result(const std::string& what, const char* unit, double value) {
  std::printf("{\"id\":\"E2\",\"what\":\"%s\",\"unit\":\"%s\",\"value\":%.1f}\n", what.c_str(),
              unit, value);
  std::fflush(stdout);
}

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  return address;
}

bool parse_address(const char* ip, const char* port, sockaddr_in* address) {
  *address = loopback(std::atoi(port));
  return ::inet_pton(AF_INET, ip, &address->sin_addr) == 1;
}

// Binds `fd` to 127.0.0.1 on an ephemeral port; returns the port, or 0.
int bind_loopback(int fd) {
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return 0;
  return ntohs(address.sin_port);
}

// Written to a temporary name and renamed, so a poller never reads half a port number.
bool write_ready(const std::string& path, const std::string& text) {
  std::string partial = path + ".partial";
  std::FILE* file = std::fopen(partial.c_str(), "w");
  if (!file) return false;
  bool ok = std::fprintf(file, "%s\n", text.c_str()) > 0;
  ok = std::fclose(file) == 0 && ok;
  return ok && std::rename(partial.c_str(), path.c_str()) == 0;
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, timeout_ms) == 1;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// A connected socket of `type` to 127.0.0.1:port, or -1.
int connect_loopback(int type, int port) {
  int fd = ::socket(AF_INET, type, 0);
  if (type == SOCK_STREAM) set_nodelay(fd);
  sockaddr_in address = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The received rate runs from the first batch to the last, so the sink's own start and the
// silence that ends it do not count.
int udp_sink(const std::string& ready, const std::string& label) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  int buffer = 4 << 20;  // net.core.rmem_max caps it; a larger queue rides out scheduling gaps
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  int port = bind_loopback(fd);
  if (port == 0 || !write_ready(ready, std::to_string(port))) {
    std::perror("udp-sink");
    return 1;
  }
  std::vector<char> data(static_cast<std::size_t>(kSinkBatch) * kPayload);
  std::vector<iovec> iov(kSinkBatch);
  std::vector<mmsghdr> messages(kSinkBatch);
  for (int i = 0; i < kSinkBatch; ++i) {
    iov[i] = {data.data() + i * kPayload, kPayload};
    messages[i] = {};
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  long received = 0;
  long first_batch = 0;
  Clock::time_point first{};
  Clock::time_point last{};
  while (wait_readable(fd, received == 0 ? kFirstPacketMs : kSinkIdleMs)) {
    int count = ::recvmmsg(fd, messages.data(), kSinkBatch, MSG_DONTWAIT, nullptr);
    if (count <= 0) continue;
    last = Clock::now();
    if (received == 0) {
      first = last;
      first_batch = count;
    }
    received += count;
  }
  ::close(fd);
  double span = std::chrono::duration<double>(last - first).count();
  if (span <= 0) {
    std::fprintf(stderr, "udp-sink: %ld datagrams received\n", received);
    return 1;
  }
  print_result("udp pps received, " + label, "pps",
               static_cast<double>(received - first_batch) / span);
  return 0;
}

int tcp_echo(const std::string& ready) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int port = bind_loopback(listener);
  if (port == 0 || ::listen(listener, 1) != 0 || !write_ready(ready, std::to_string(port))) {
    std::perror("tcp-echo");
    return 1;
  }
  if (!wait_readable(listener, kFirstPacketMs)) {
    std::fprintf(stderr, "tcp-echo: no client came\n");
    return 1;
  }
  int fd = ::accept(listener, nullptr, nullptr);
  ::close(listener);
  if (fd < 0) {
    std::perror("tcp-echo: accept");
    return 1;
  }
  set_nodelay(fd);
  char buffer[256];
  for (;;) {
    ssize_t count = ::recv(fd, buffer, sizeof(buffer), 0);
    if (count <= 0) break;
    if (::send(fd, buffer, static_cast<std::size_t>(count), 0) != count) break;
  }
  ::close(fd);
  return 0;
}

// Sends `count` datagrams on `fd`; returns how many failed, and the first error in `first_errno`.
long send_datagrams(int fd, long count, int* first_errno) {
  static const char payload[kPayload] = {};
  long failed = 0;
  for (long i = 0; i < count; ++i) {
    if (::send(fd, payload, sizeof(payload), 0) != static_cast<ssize_t>(sizeof(payload)) &&
        failed++ == 0)
      *first_errno = errno;
  }
  return failed;
}

// `count` 1-byte request/response transactions on `fd`; false on the first failure.
bool transact(int fd, long count) {
  char byte = 'x';
  for (long i = 0; i < count; ++i)
    if (::send(fd, &byte, 1, 0) != 1 || ::recv(fd, &byte, 1, 0) != 1) return false;
  return true;
}

int udp_send(const sockaddr_in& address, double duration, const std::string& label) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  // Connected: the kernel routes once, and cgroup/sendmsg4 (which runs only for sends that name
  // an address) stays out of the measurement, so what differs between runs is the egress path.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    std::perror("udp-send: connect");
    return 1;
  }
  long sent = 0;
  long failed = 0;
  int first_errno = 0;
  double cpu_start = cpu_ns();
  auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < duration) {
    failed += send_datagrams(fd, kClockEvery, &first_errno);
    sent += kClockEvery;
    elapsed = seconds_since(start);
  }
  double cpu = cpu_ns() - cpu_start;
  ::close(fd);
  if (failed > 0)
    std::fprintf(stderr, "udp-send: %ld of %ld sends failed (first: %s)\n", failed, sent,
                 std::strerror(first_errno));
  print_result("udp pps, " + label, "pps", static_cast<double>(sent - failed) / elapsed);
  print_result("udp cpu ns/packet, " + label, "ns/packet", cpu / static_cast<double>(sent));
  return failed == 0 ? 0 : 1;
}

int tcp_rr(const sockaddr_in& address, double duration, const std::string& label) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  set_nodelay(fd);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    std::perror("tcp-rr: connect");
    return 1;
  }
  long transactions = 0;
  bool ok = true;
  double cpu_start = cpu_ns();
  auto start = Clock::now();
  double elapsed = 0;
  while (ok && elapsed < duration) {
    ok = transact(fd, kClockEvery);
    if (ok) transactions += kClockEvery;
    elapsed = seconds_since(start);
  }
  double cpu = cpu_ns() - cpu_start;
  if (!ok) std::perror("tcp-rr");
  ::close(fd);
  print_result("tcp rr, " + label, "tps", static_cast<double>(transactions) / elapsed);
  print_result("tcp cpu ns/transaction, " + label, "ns/transaction",
               cpu / static_cast<double>(std::max(transactions, 1L)));
  return ok ? 0 : 1;
}

bool join_cgroup(const std::string& cgroup) {
  std::FILE* file = std::fopen((cgroup + "/cgroup.procs").c_str(), "w");
  if (!file) return false;
  bool ok = std::fprintf(file, "%d\n", static_cast<int>(::getpid())) > 0;
  return std::fclose(file) == 0 && ok;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

// Reads the first line of `path` once it exists (it is written whole, by rename), waiting up to
// kFirstPacketMs.
bool wait_for_line(const std::string& path, std::string* line) {
  for (int waited = 0; waited < kFirstPacketMs; waited += 10) {
    if (std::FILE* file = std::fopen(path.c_str(), "r")) {
      char buffer[4096] = {};
      bool ok = std::fgets(buffer, sizeof(buffer), file) != nullptr;
      std::fclose(file);
      *line = buffer;
      while (!line->empty() && line->back() == '\n') line->pop_back();
      return ok && !line->empty();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// One place a client socket can be made in, and what its packets cost there.
struct Place {
  std::string cgroup;
  int udp = -1;
  int tcp = -1;         // the client end: the one in `cgroup`
  int tcp_server = -1;  // the accepted end: the listener's cgroup, HOME
  // [kUdp, kTcp]: ns per datagram or per transaction, one per slice of the current phase.
  std::vector<double> slices[2];
  // [kUdp, kTcp][nft table absent, present]: the median of each phase's slices, one per phase.
  std::vector<double> ns[2][2];
};

enum { kUdp, kTcp };

// `count` 1-byte transactions between the two ends of one connection, both driven by this thread.
// On loopback a send delivers to the peer's socket before it returns (the receive softirq runs on
// the way out), so neither recv() waits and nobody is ever woken. false on the first failure.
bool transact_both_ends(int client, int server, long count) {
  char byte = 'x';
  for (long i = 0; i < count; ++i) {
    if (::send(client, &byte, 1, 0) != 1 || ::recv(server, &byte, 1, 0) != 1 ||
        ::send(server, &byte, 1, 0) != 1 || ::recv(client, &byte, 1, 0) != 1)
      return false;
  }
  return true;
}

// What whole runs cannot resolve on a shared 2-core VM, where a process taking a core for a while
// moves a rate by more than the difference sought: the cost per packet of each configuration,
// measured in one thread that takes turns between them every few milliseconds and never sleeps.
//
// A socket belongs to the cgroup its creator was in when it was made, and both the egress program
// and nft's `socket cgroupv2` judge a packet by its socket's cgroup. So this process binds, in
// HOME, a UDP socket that is never read and a TCP listener, writes "UDP_PORT TCP_PORT" to READY
// (for the sandbox's and nft's allow lists), and reads the running sandbox's cgroup from GO. It
// then joins each cgroup in turn (BARE, BARE2: two empty ones; the sandbox's; NFT: the one the nft
// table polices), makes there a connected UDP socket and a TCP connection to its own listener,
// and goes back to HOME, where it accepts the server ends.
//
// Nothing in a measurement waits to be woken: on this VM a cross-CPU wakeup costs the waker an
// interrupt (a VM exit) of microseconds, which lands on some slices and not others. The UDP
// receiver's queue fills at once, and from then on every datagram takes the whole receive path
// and is dropped at the socket, with nobody to wake; a TCP transaction is driven from both ends
// by this thread (transact_both_ends()). The server ends belong to HOME (the listener's cgroup,
// and the one the process is in when it accepts): nft's output hook sees the replies (unmatched),
// the sandbox's egress program does not.
//
// It alternates for SECONDS between two phases, the nft table absent and present (NFT_ON and
// NFT_OFF are shell commands): the table exists only in its phase because its output hook sees
// every packet of the machine, not only NFT's. A phase is kPhaseTurns turns; in a turn, every
// place in a rotating order sends kUdpSlice datagrams and then makes kTcpSlice transactions, each
// slice timed in CPU time. A place's figure in a phase is the median over its slices there, which
// sheds those an interrupt or a preemption happened to land on. Prints medians over the pairs of
// neighbouring phases of:
//   "udp added ns/packet, cgfw":       sandbox - BARE, table absent;
//   "udp added ns/packet, nft set":    NFT with the table - BARE without it;
//   "udp added ns/packet, bare (A/A)": BARE2 - BARE, table absent: the method's own noise;
//   "udp added ns/packet, nft table, unmatched": BARE with the table - without: what the table
//     costs every other packet of the machine;
// the same four as "tcp added ns/transaction, ...", and the baselines as
// "udp ns/packet, bare (interleaved)" and "tcp ns/transaction, bare (interleaved)".
int interleave(const std::string& ready, const std::string& go, double duration,
               const std::string& home, std::vector<Place> places, const std::string& nft_on,
               const std::string& nft_off) {
  enum { kBare, kBare2, kCgfw, kNft };
  int receiver = ::socket(AF_INET, SOCK_DGRAM, 0);
  int buffer = 0;  // the kernel's minimum: full after a few datagrams
  ::setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int udp_port = bind_loopback(receiver);
  int tcp_port = bind_loopback(listener);
  if (udp_port == 0 || tcp_port == 0 || ::listen(listener, static_cast<int>(places.size())) != 0 ||
      !write_ready(ready, std::to_string(udp_port) + " " + std::to_string(tcp_port))) {
    std::perror("interleave: listen");
    return 1;
  }
  if (!wait_for_line(go, &places[kCgfw].cgroup)) {
    std::fprintf(stderr, "interleave: nothing in %s\n", go.c_str());
    return 1;
  }
  for (auto& place : places) {
    bool joined = join_cgroup(place.cgroup);
    if (joined) {
      place.udp = connect_loopback(SOCK_DGRAM, udp_port);
      place.tcp = connect_loopback(SOCK_STREAM, tcp_port);
    }
    if (!join_cgroup(home) || !joined || place.udp < 0 || place.tcp < 0) {
      std::perror(("interleave: " + place.cgroup).c_str());
      return 1;
    }
    place.tcp_server = ::accept(listener, nullptr, nullptr);
    if (place.tcp_server < 0) {
      std::perror("interleave: accept");
      return 1;
    }
    set_nodelay(place.tcp_server);
  }
  long failed = 0;
  int first_errno = 0;
  bool ok = true;
  bool table = false;
  std::size_t turn = 0;
  auto start = Clock::now();
  // Whole pairs of phases, so that both have the same number of turns.
  while (ok && (table || seconds_since(start) < duration)) {
    int phase = table ? 1 : 0;
    // The nft command has just run through the caches (and a deleted table is freed after an RCU
    // grace period): let that settle, then warm every socket up unmeasured.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& place : places) {
      failed += send_datagrams(place.udp, kUdpSlice, &first_errno);
      ok = ok && transact_both_ends(place.tcp, place.tcp_server, kTcpSlice);
    }
    for (int t = 0; ok && t < kPhaseTurns; ++t, ++turn) {
      for (std::size_t i = 0; ok && i < places.size(); ++i) {
        Place& place = places[(turn + i) % places.size()];
        double before = cpu_ns();
        failed += send_datagrams(place.udp, kUdpSlice, &first_errno);
        double middle = cpu_ns();
        ok = transact_both_ends(place.tcp, place.tcp_server, kTcpSlice);
        double after = cpu_ns();
        place.slices[kUdp].push_back((middle - before) / kUdpSlice);
        place.slices[kTcp].push_back((after - middle) / kTcpSlice);
      }
    }
    for (auto& place : places) {
      for (int kind : {kUdp, kTcp}) {
        place.ns[kind][phase].push_back(median(place.slices[kind]));
        place.slices[kind].clear();
      }
    }
    table = !table;
    const std::string& command = table ? nft_on : nft_off;
    if (ok && std::system(command.c_str()) != 0) {
      std::fprintf(stderr, "interleave: %s failed\n", command.c_str());
      ok = false;
    }
  }
  if (table) std::system(nft_off.c_str());
  for (auto& place : places) {
    ::close(place.udp);
    ::close(place.tcp);
    ::close(place.tcp_server);
  }
  ::close(listener);
  ::close(receiver);
  if (!ok || failed > 0) {
    std::fprintf(stderr, "interleave: %s; %ld sends failed (first: %s)\n",
                 ok ? "transactions ok" : "failed", failed, std::strerror(first_errno));
    return 1;
  }
  // Each difference is taken within a pair of neighbouring phases (the table absent, then
  // present), and the median taken over the pairs: the machine's load drifts between pairs.
  for (int kind : {kUdp, kTcp}) {
    const std::vector<double>& bare = places[kBare].ns[kind][0];
    auto added = [&](int place, int phase) {
      std::vector<double> differences;
      for (std::size_t k = 0; k < bare.size(); ++k)
        differences.push_back(places[place].ns[kind][phase][k] - bare[k]);
      return median(differences);
    };
    std::string name = kind == kUdp ? "udp" : "tcp";
    const char* unit = kind == kUdp ? "ns/packet" : "ns/transaction";
    std::string per = name + " added " + unit + ", ";
    print_result(name + " " + unit + ", bare (interleaved)", unit, median(bare));
    print_result(per + "cgfw", unit, added(kCgfw, 0));
    print_result(per + "nft set", unit, added(kNft, 1));
    print_result(per + "bare (A/A)", unit, added(kBare2, 0));
    print_result(per + "nft table, unmatched", unit, added(kBare, 1));
  }
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: packet_rate udp-sink READY_FILE LABEL\n"
               "       packet_rate tcp-echo READY_FILE\n"
               "       packet_rate udp-send IP PORT SECONDS LABEL\n"
               "       packet_rate tcp-rr IP PORT SECONDS LABEL\n"
               "       packet_rate interleave READY_FILE GO_FILE SECONDS HOME BARE BARE2 NFT NFT_ON"
               " NFT_OFF\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  std::string mode = argv[1];
  if (mode == "udp-sink" && argc == 4) return udp_sink(argv[2], argv[3]);
  if (mode == "tcp-echo" && argc == 3) return tcp_echo(argv[2]);
  if ((mode == "udp-send" || mode == "tcp-rr") && argc == 6) {
    sockaddr_in address;
    double duration = std::atof(argv[4]);
    if (!parse_address(argv[2], argv[3], &address) || duration <= 0) return usage();
    return mode == "udp-send" ? udp_send(address, duration, argv[5])
                              : tcp_rr(address, duration, argv[5]);
  }
  if (mode == "interleave" && argc == 11) {
    double duration = std::atof(argv[4]);
    if (duration <= 0) return usage();
    std::vector<Place> places(4);
    places[0].cgroup = argv[6];
    places[1].cgroup = argv[7];
    places[3].cgroup = argv[8];  // [2], the sandbox's, comes from GO_FILE
    return interleave(argv[2], argv[3], duration, argv[5], places, argv[9], argv[10]);
  }
  return usage();
}
