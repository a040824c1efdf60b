// D2: what one DNS query costs end to end, one at a time. Sends COUNT sequential A queries, each
// for a distinct name (PREFIX-N.bench.test, so no hop can answer from a cache), over one connected
// UDP socket, and times each round trip (send to matching answer) with steady_clock. Run it
// straight at the upstream, through a forwarder, and inside cgfw-sandbox (any address, port 53:
// the sandbox sends it to its DNS proxy): the differences are what each hop adds.
//
// Usage: dns_latency ADDR PORT COUNT LABEL [PREFIX] [WARMUP] [SECONDS]
// PREFIX defaults to "lat", WARMUP (untimed queries first) to 200; SECONDS, if given and not 0,
// stops the run early after that long (a slow path still ends in bounded time; fewer are timed).
// Prints two JSON lines on stdout:
//   {"id":"D2","what":"p50, LABEL","unit":"us","value":...}
//   {"id":"D2","what":"p99, LABEL","unit":"us","value":...}
// and a one-line summary (min, max, lost, wrong answers) on stderr. A query unanswered after one
// second is lost and not timed; more than 1 % lost or wrong answers fails (exit 1).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// A query for NAME, type A, class IN, recursion desired, no EDNS. Returns its length.
std::size_t build_query(std::uint8_t* out, std::uint16_t id, const std::string& name) {
  std::memset(out, 0, 12);
  out[0] = static_cast<std::uint8_t>(id >> 8);
  out[1] = static_cast<std::uint8_t>(id & 0xff);
  out[2] = 0x01;  // RD
  out[5] = 0x01;  // QDCOUNT 1
  std::size_t at = 12;
  for (std::size_t start = 0; start < name.size();) {
    std::size_t end = std::min(name.find('.', start), name.size());
    out[at++] = static_cast<std::uint8_t>(end - start);
    std::memcpy(out + at, name.data() + start, end - start);
    at += end - start;
    start = end + 1;
  }
  out[at++] = 0;
  const std::uint8_t type_and_class[4] = {0, 1, 0, 1};  // A, IN
  std::memcpy(out + at, type_and_class, sizeof(type_and_class));
  return at + sizeof(type_and_class);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s ADDR PORT COUNT LABEL [PREFIX] [WARMUP] [SECONDS]\n", argv[0]);
    return 2;
  }
  const char* address_text = argv[1];
  int port = std::atoi(argv[2]);
  int count = std::atoi(argv[3]);
  std::string label = argv[4];
  std::string prefix = argc > 5 ? argv[5] : "lat";
  int warmup = argc > 6 ? std::atoi(argv[6]) : 200;
  double limit = argc > 7 ? std::atof(argv[7]) : 0;
  if (count <= 0 || port <= 0 || port > 65535 || warmup < 0 || limit < 0 || prefix.empty() ||
      prefix.size() > 40 || prefix.find('.') != std::string::npos) {
    std::fprintf(stderr, "dns_latency: bad PORT, COUNT, PREFIX, WARMUP or SECONDS\n");
    return 2;
  }

  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, address_text, &server.sin_addr) != 1) {
    std::fprintf(stderr, "dns_latency: bad IPv4 address %s\n", address_text);
    return 2;
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof(server)) != 0) {
    std::perror("dns_latency: socket/connect");
    return 1;
  }

  std::mt19937 random(std::random_device{}());
  std::vector<double> micros;
  micros.reserve(static_cast<std::size_t>(count));
  int lost = 0;
  int wrong = 0;
  int sent = 0;
  auto stop_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(limit > 0 ? limit : 1e9));
  std::uint8_t query[300];
  std::uint8_t answer[4096];
  for (int i = 0; i < warmup + count; ++i) {
    if (i >= warmup && Clock::now() >= stop_at) break;
    auto id = static_cast<std::uint16_t>(random());
    std::string name = prefix + "-" + std::to_string(i) + ".bench.test";
    std::size_t size = build_query(query, id, name);
    auto start = Clock::now();
    if (::send(fd, query, size, 0) != static_cast<ssize_t>(size)) {
      std::perror("dns_latency: send");
      return 1;
    }
    // Wait for the answer with our id; anything else (a late answer to a lost query) is skipped.
    bool answered = false;
    bool good = false;
    auto deadline = start + std::chrono::seconds(1);
    while (!answered) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() < 0) break;
      pollfd wait{fd, POLLIN, 0};
      // Poll only when nothing is waiting: a busy recv first keeps poll out of the timed path.
      ssize_t n = ::recv(fd, answer, sizeof(answer), MSG_DONTWAIT);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED) {
          std::perror("dns_latency: recv");
          return 1;
        }
        if (::poll(&wait, 1, static_cast<int>(left.count()) + 1) < 0) {
          std::perror("dns_latency: poll");
          return 1;
        }
        continue;
      }
      if (n < 12 || answer[0] != query[0] || answer[1] != query[1]) continue;
      answered = true;
      int rcode = answer[3] & 0x0f;
      int ancount = answer[6] << 8 | answer[7];
      good = (answer[2] & 0x80) && rcode == 0 && ancount >= 1;
    }
    auto took = Clock::now() - start;
    if (i < warmup) continue;
    ++sent;
    if (!answered) {
      ++lost;
      continue;
    }
    if (!good) ++wrong;
    micros.push_back(std::chrono::duration<double, std::micro>(took).count());
  }
  ::close(fd);
  if (micros.empty()) {
    std::fprintf(stderr, "dns_latency %s: no answers\n", label.c_str());
    return 1;
  }
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) {
    auto index = static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1) + 0.5);
    return micros[std::min(index, micros.size() - 1)];
  };
  std::printf("{\"id\":\"D2\",\"what\":\"p50, %s\",\"unit\":\"us\",\"value\":%.1f}\n",
              label.c_str(), at(0.50));
  std::printf("{\"id\":\"D2\",\"what\":\"p99, %s\",\"unit\":\"us\",\"value\":%.1f}\n",
              label.c_str(), at(0.99));
  std::fflush(stdout);
  std::fprintf(
      stderr,
      "dns_latency %s: %zu of %d timed, p50 %.1f us, p99 %.1f us, min %.1f us, max %.1f us, "
      "lost %d, wrong answers %d\n",
      label.c_str(), micros.size(), count, at(0.50), at(0.99), micros.front(), micros.back(), lost,
      wrong);
  return (lost + wrong) * 100 > sent ? 1 : 0;
}
