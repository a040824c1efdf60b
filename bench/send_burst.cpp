// E1 under a real load: N small writes (TCP_NODELAY: one packet each) on one TCP connection to
// IP:PORT, so the egress program runs on real packets of a real socket. Run inside cgfw-sandbox
// while `kernel.bpf_stats_enabled` is on; bench/run.sh reads the program's run_time_ns/run_cnt.
// Usage: send_burst IP PORT COUNT. Prints the number of writes sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: send_burst IP PORT COUNT\n");
    return 2;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  if (::inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) return 2;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    std::perror("connect");
    return 1;
  }
  char chunk[64] = {};
  long count = std::atol(argv[3]);
  long sent = 0;
  for (; sent < count; ++sent)
    if (::send(fd, chunk, sizeof(chunk), 0) != static_cast<ssize_t>(sizeof(chunk))) break;
  ::close(fd);
  std::printf("%ld\n", sent);
  return sent == count ? 0 : 1;
}
