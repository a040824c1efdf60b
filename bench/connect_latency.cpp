// C1: what a TCP connect() costs, timed around the system call alone, to a listener on loopback
// (accepted and closed by a second thread). Run bare and inside cgfw-sandbox: the difference is
// what the connect4 and sockops programs add. Usage: connect_latency [COUNT] [LABEL]
// Prints one JSON object: {"id":"C1","what":LABEL,"connects":N,"failed":F,"ns":{"p50","p99",
// "min","max"}} (the latencies of the connects that succeeded).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  int count = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::string label = argc > 2 ? argv[2] : "connect";
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener, 4096) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("listen");
    return 1;
  }
  std::thread acceptor([&] {
    for (int i = 0; i < count; ++i) {
      int peer = ::accept(listener, nullptr, nullptr);
      if (peer >= 0) ::close(peer);
    }
  });
  std::vector<double> ns;
  ns.reserve(static_cast<std::size_t>(count));
  int failed = 0;
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    auto start = std::chrono::steady_clock::now();
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    auto took = std::chrono::steady_clock::now() - start;
    ::close(fd);
    // A refused connect is counted, not fatal: in the sandbox it is cgfw failing closed (a flow
    // whose event could not be recorded), which is itself a finding.
    if (rc != 0) {
      ++failed;
      continue;
    }
    ns.push_back(std::chrono::duration<double, std::nano>(took).count());
  }
  // The acceptor waits for `count` connections; wake it for those that never came.
  for (int i = 0; i < failed; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::close(fd);
  }
  acceptor.join();
  if (ns.empty()) return 1;
  std::sort(ns.begin(), ns.end());
  std::printf("{\"id\":\"C1\",\"what\":\"connect() p50, %s\",\"unit\":\"ns\",\"value\":%.0f}\n",
              label.c_str(), ns[ns.size() / 2]);
  std::printf("{\"id\":\"C1\",\"what\":\"connect() p99, %s\",\"unit\":\"ns\",\"value\":%.0f}\n",
              label.c_str(), ns[ns.size() * 99 / 100]);
  std::printf(
      "{\"id\":\"C1\",\"what\":\"connects refused of %d, %s\",\"unit\":\"connects\","
      "\"value\":%d}\n",
      count, label.c_str(), failed);
  return 0;
}
