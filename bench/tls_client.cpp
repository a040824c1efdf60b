// A TLS client for the benchmarks wrk cannot do (bench/tls.sh): new connections one after another
// with a chosen TLS version (T3), first contacts to many names and to one name at once (T4), and
// many connections held open (M1). Certificates are not verified: the benchmarks compare costs,
// and verification would cost the same on every path.
//
//   tls_client connections HOST PORT COUNT tls12|tls13 LABEL   (T3)
//   tls_client mint FORMAT PORT COUNT                         (T4: FORMAT like n%d.bench.test)
//   tls_client concurrent HOST PORT THREADS                   (T4: one name, all at once)
//   tls_client hold FORMAT PORT COUNT READY_FILE SECONDS      (M1)
//
// HOST is resolved with getaddrinfo, outside the timed part, so that inside a sandbox the name goes
// through cgfw's DNS proxy first, as a real client's would.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "tls_client: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

sockaddr_storage resolve(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int error = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found))
    die("cannot resolve " + host + ": " + gai_strerror(error));
  sockaddr_storage address{};
  std::memcpy(&address, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return address;
}

SSL_CTX* make_context(int version) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  if (!context) die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(context, version);
  SSL_CTX_set_max_proto_version(context, version);
  SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
  // A new connection must pay for a full handshake, as a build's first contact does.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
  return context;
}

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  void close() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
    ssl = nullptr;
    fd = -1;
  }
};

Connection handshake(SSL_CTX* context, const sockaddr_storage& address, const std::string& host) {
  Connection c;
  c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&address), sizeof(sockaddr_in)) != 0)
    die("connect to " + host + ": " + std::strerror(errno));
  c.ssl = SSL_new(context);
  SSL_set_fd(c.ssl, c.fd);
  SSL_set_tlsext_host_name(c.ssl, host.c_str());
  if (SSL_connect(c.ssl) != 1) die("handshake with " + host);
  return c;
}

// Sends one GET and reads the response head and body (nginx's /small is a few bytes).
void request(Connection& c, const std::string& host, bool close) {
  std::string get = "GET /small HTTP/1.1\r\nHost: " + host + "\r\n" +
                    (close ? "Connection: close\r\n" : "") + "\r\n";
  if (SSL_write(c.ssl, get.data(), static_cast<int>(get.size())) <= 0) die("write to " + host);
  char buffer[4096];
  int n = SSL_read(c.ssl, buffer, sizeof(buffer));
  if (n <= 0) die("no response from " + host);
  if (close)
    while (SSL_read(c.ssl, buffer, sizeof(buffer)) > 0) {
    }
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

void print(const char* id, const std::string& what, const char* unit, double value) {
  std::printf("{\"id\":\"%s\",\"what\":\"%s\",\"unit\":\"%s\",\"value\":%.4f}\n", id, what.c_str(),
              unit, value);
  std::fflush(stdout);
}

std::string name_of(const char* format, int i) {
  char name[256];
  std::snprintf(name, sizeof(name), format, i);
  return name;
}

// T3: COUNT new connections in turn, each a full handshake and one request, then closed.
int connections(const std::string& host, int port, int count, int version,
                const std::string& label) {
  SSL_CTX* context = make_context(version);
  auto address = resolve(host, port);
  std::vector<double> first_request;
  auto started = Clock::now();
  for (int i = 0; i < count; ++i) {
    auto start = Clock::now();
    Connection c = handshake(context, address, host);
    request(c, host, true);
    first_request.push_back(ms_since(start));
    c.close();
  }
  double seconds = ms_since(started) / 1000;
  // Nagle plus delayed ACK shows up as a round trip of about 40 ms.
  auto stalls =
      std::count_if(first_request.begin(), first_request.end(), [](double ms) { return ms >= 40; });
  print("T3", "conn/s, " + label, "conn/s", count / seconds);
  print("T3", "first request p50, " + label, "ms", percentile(first_request, 0.5));
  print("T3", "first request p99, " + label, "ms", percentile(first_request, 0.99));
  print("T3", "stalls >= 40 ms, " + label, "connections", static_cast<double>(stalls));
  return 0;
}

// T4: the handshake to COUNT names never seen (the proxy mints a leaf for each), then to the
// same names again (cache hits). The difference is within the handshakes' noise; what minting
// itself costs is timed in process by bench/mint_cost.cpp.
int mint(const char* format, int port, int count) {
  SSL_CTX* context = make_context(TLS1_3_VERSION);
  std::vector<sockaddr_storage> addresses;
  for (int i = 0; i < count; ++i) addresses.push_back(resolve(name_of(format, i), port));
  std::vector<double> first(count), again(count);
  for (auto* pass : {&first, &again}) {
    for (int i = 0; i < count; ++i) {
      auto start = Clock::now();
      Connection c = handshake(context, addresses[i], name_of(format, i));
      (*pass)[i] = ms_since(start);
      c.close();
    }
  }
  print("T4", "handshake p50, first contact", "ms", percentile(first, 0.5));
  print("T4", "handshake p50, leaf cached", "ms", percentile(again, 0.5));
  return 0;
}

// T4: THREADS first contacts to one name at the same moment; bench/tls.sh reads how many leaves
// the run minted from the report.
int concurrent(const std::string& host, int port, int threads) {
  SSL_CTX* context = make_context(TLS1_3_VERSION);
  auto address = resolve(host, port);
  std::barrier start(threads);
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      start.arrive_and_wait();
      Connection c = handshake(context, address, host);
      request(c, host, true);
      c.close();
    });
  }
  for (auto& worker : workers) worker.join();
  return 0;
}

// M1: COUNT connections to COUNT names, each after one request, held open for SECONDS.
int hold(const char* format, int port, int count, const char* ready_file, int seconds) {
  SSL_CTX* context = make_context(TLS1_3_VERSION);
  std::vector<Connection> held;
  for (int i = 0; i < count; ++i) {
    std::string host = name_of(format, i);
    held.push_back(handshake(context, resolve(host, port), host));
    request(held.back(), host, false);
  }
  std::ofstream(ready_file) << count << "\n";
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  for (auto& c : held) c.close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto number = [&](std::size_t i) { return std::atoi(args.at(i).c_str()); };
  try {
    if (args.size() == 6 && args[0] == "connections")
      return connections(args[1], number(2), number(3),
                         args[4] == "tls12" ? TLS1_2_VERSION : TLS1_3_VERSION, args[5]);
    if (args.size() == 4 && args[0] == "mint") return mint(argv[2], number(2), number(3));
    if (args.size() == 4 && args[0] == "concurrent")
      return concurrent(args[1], number(2), number(3));
    if (args.size() == 6 && args[0] == "hold")
      return hold(argv[2], number(2), number(3), argv[5], number(5));
  } catch (const std::exception& e) {
    die(e.what());
  }
  std::fprintf(stderr,
               "usage: tls_client connections HOST PORT COUNT tls12|tls13 LABEL\n"
               "       tls_client mint FORMAT PORT COUNT\n"
               "       tls_client concurrent HOST PORT THREADS\n"
               "       tls_client hold FORMAT PORT COUNT READY_FILE SECONDS\n");
  return 2;
}
