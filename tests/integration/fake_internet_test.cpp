// Tests of the fake internet fixture itself, from the root namespace with no sandbox involved:
// if these fail, every sandbox test built on the fixture is meaningless.

#include "tests/support/fake_internet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cgfw::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kName = "cgfwfi";
constexpr auto kLogWait = 3000ms;

#define SKIP_UNLESS_ROOT()                                                                \
  do {                                                                                    \
    if (::geteuid() != 0) {                                                               \
      GTEST_SKIP() << "\n*** SKIPPED: the fake internet needs root (network namespaces, " \
                      "veth). Run this test binary as root to cover it. ***";             \
    }                                                                                     \
  } while (0)

CommandResult curl(const std::string& url) {
  // --noproxy: a proxy from the environment would answer instead of the fake internet.
  return run_command({"curl", "-sS", "-g", "--noproxy", "*", "--max-time", "5", url});
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool netns_listed(const std::string& name) {
  std::istringstream lines(run_command({"ip", "netns", "list"}).out);
  for (std::string line; std::getline(lines, line);) {
    if (line.substr(0, line.find(' ')) == name) return true;
  }
  return false;
}

bool process_running(const std::string& pid) {
  std::ifstream stat_file("/proc/" + pid + "/stat");
  std::string stat;
  if (!std::getline(stat_file, stat)) return false;
  const auto state = stat.find(") ");
  return state != std::string::npos && stat.at(state + 2) != 'Z';  // zombies are gone for us
}

struct UdpReply {
  std::string payload;
  std::string from_ip;
  int from_port = 0;
};

// Sends one datagram from a connected socket (so only a reply from exactly ip:port is
// accepted) and waits up to 3 s for the echo.
UdpReply udp_round_trip(const std::string& ip, int port, const std::string& payload) {
  const bool v6 = ip.find(':') != std::string::npos;
  sockaddr_storage address{};
  socklen_t length = 0;
  if (v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&address);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    EXPECT_EQ(::inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr), 1);
    length = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&address);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    EXPECT_EQ(::inet_pton(AF_INET, ip.c_str(), &sin->sin_addr), 1);
    length = sizeof(sockaddr_in);
  }

  UdpReply reply;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return reply;
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
      ::send(fd, payload.data(), payload.size(), 0) == static_cast<ssize_t>(payload.size())) {
    char buffer[2048];
    sockaddr_storage from{};
    socklen_t from_length = sizeof from;
    const ssize_t n =
        ::recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n >= 0) {
      reply.payload.assign(buffer, static_cast<size_t>(n));
      char text[INET6_ADDRSTRLEN] = {};
      if (from.ss_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&from);
        ::inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
        reply.from_port = ntohs(sin6->sin6_port);
      } else {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&from);
        ::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
        reply.from_port = ntohs(sin->sin_port);
      }
      reply.from_ip = text;
    }
  }
  ::close(fd);
  return reply;
}

// Sends text over TCP, half-closes, and returns everything received until the server closes.
std::string tcp_exchange(const std::string& ip, int port, const std::string& text) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(::inet_pton(AF_INET, ip.c_str(), &address.sin_addr), 1);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string received;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size())) {
    ::shutdown(fd, SHUT_WR);
    char buffer[2048];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
      received.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return received;
}

// One namespace for the whole suite: bringing it up per test would only add time.
class FakeInternetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    try {
      net_ = FakeInternet::up(kName);
    } catch (const std::exception& error) {
      up_error_ = error.what();
    }
  }

  static void TearDownTestSuite() { net_.reset(); }

  void SetUp() override {
    SKIP_UNLESS_ROOT();
    ASSERT_NE(net_, nullptr) << up_error_;
    net_->clear_log();
  }

  static std::unique_ptr<FakeInternet> net_;
  static std::string up_error_;
};

std::unique_ptr<FakeInternet> FakeInternetTest::net_;
std::string FakeInternetTest::up_error_;

TEST_F(FakeInternetTest, HttpAnswersOnNearFarAndIpv6Addresses) {
  struct Case {
    std::string url;
    std::string ip;
    int port;
  };
  const std::vector<Case> cases{
      {"http://198.51.100.11/", FakeInternet::kServerV4b, 80},
      {"http://203.0.113.10:8080/", FakeInternet::kFarV4, 8080},
      {"http://[2001:db8::10]/", FakeInternet::kServerV6, 80},
      {"http://[2001:db8:1::10]:9000/", FakeInternet::kFarV6, 9000},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    const CommandResult result = curl(c.url);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "hello from " + c.ip + ":" + std::to_string(c.port) + "\n");
    ASSERT_TRUE(net_->wait_for_hits(c.ip, c.port, 1, kLogWait));
    const auto entry = net_->hits(c.ip, c.port).at(0);
    EXPECT_EQ(entry["proto"], "tcp");
    EXPECT_EQ(entry["first_line"], "GET / HTTP/1.1");
    EXPECT_GT(entry["bytes"].get<int>(), 0);
    const bool v6 = c.ip.find(':') != std::string::npos;
    EXPECT_EQ(entry["peer_ip"], v6 ? FakeInternet::kHostV6 : FakeInternet::kHostV4);
  }
}

TEST_F(FakeInternetTest, UdpIsEchoedFromTheAddressItWasSentTo) {
  struct Case {
    std::string ip;
    int port;
  };
  const std::vector<Case> cases{{FakeInternet::kServerV4c, 9999},
                                {FakeInternet::kFarV4b, 5353},
                                {FakeInternet::kServerV6b, 9999},
                                {FakeInternet::kFarV6, 5353}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ip);
    const std::string payload = "ping " + c.ip;
    const UdpReply reply = udp_round_trip(c.ip, c.port, payload);
    EXPECT_EQ(reply.payload, payload);
    EXPECT_EQ(reply.from_ip, c.ip);
    EXPECT_EQ(reply.from_port, c.port);
    ASSERT_TRUE(net_->wait_for_hits(c.ip, c.port, 1, kLogWait));
    const auto entry = net_->hits(c.ip, c.port).at(0);
    EXPECT_EQ(entry["proto"], "udp");
    EXPECT_EQ(entry["first_line"], payload);
    EXPECT_EQ(entry["bytes"], payload.size());
  }
}

TEST_F(FakeInternetTest, NonHttpTcpIsEchoedAndLogged) {
  const std::string text = "ping\x01\xff\nsecond line\n";
  EXPECT_EQ(tcp_exchange(FakeInternet::kServerV4d, 9001, text), text);
  ASSERT_TRUE(net_->wait_for_hits(FakeInternet::kServerV4d, 9001, 1, kLogWait));
  const auto entry = net_->hits(FakeInternet::kServerV4d, 9001).at(0);
  EXPECT_EQ(entry["first_line"], "ping\x01\xc3\xbf");  // latin-1 0xff, as UTF-8 in the JSON
  EXPECT_EQ(entry["bytes"], text.size());
}

TEST_F(FakeInternetTest, HitsFilterByAddressPortAndProtocol) {
  EXPECT_EQ(curl("http://198.51.100.10/").exit_code, 0);
  EXPECT_EQ(curl("http://198.51.100.10:8080/").exit_code, 0);
  EXPECT_EQ(udp_round_trip(FakeInternet::kServerV4, 9999, "x").payload, "x");
  EXPECT_EQ(curl("http://198.51.100.13/").exit_code, 0);
  ASSERT_TRUE(net_->wait_for_hits(FakeInternet::kServerV4, 0, 3, kLogWait));
  ASSERT_TRUE(net_->wait_for_hits(FakeInternet::kServerV4d, 0, 1, kLogWait));

  EXPECT_EQ(net_->hits(FakeInternet::kServerV4).size(), 3u);
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4, 80).size(), 1u);
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4, 8080).size(), 1u);
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4, 443).size(), 0u);
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4, 0, "udp").size(), 1u);
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4, 0, "tcp").size(), 2u);
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4, 80, "udp").size(), 0u);
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4d, 80).size(), 1u);
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4b).size(), 0u);
  EXPECT_EQ(net_->sink_log().size(), 4u);
}

TEST_F(FakeInternetTest, ClearLogEmptiesTheLogAndLoggingContinues) {
  EXPECT_EQ(curl("http://198.51.100.12/").exit_code, 0);
  ASSERT_TRUE(net_->wait_for_hits(FakeInternet::kServerV4c, 80, 1, kLogWait));
  net_->clear_log();
  EXPECT_TRUE(net_->sink_log().empty());

  EXPECT_EQ(curl("http://198.51.100.12/").exit_code, 0);
  ASSERT_TRUE(net_->wait_for_hits(FakeInternet::kServerV4c, 80, 1, kLogWait));
  EXPECT_EQ(net_->sink_log().size(), 1u);  // no stale entries, no hole left by the truncation
}

TEST_F(FakeInternetTest, ExecInNamespaceRunsInsideTheNamespace) {
  const std::string ns_link = net_->name() + "-n";
  EXPECT_EQ(net_->exec_in_namespace({"sh", "-c", "ip link show dev \"$0\" >/dev/null", ns_link}),
            0);
  EXPECT_NE(run_command({"ip", "link", "show", "dev", ns_link}).exit_code, 0)
      << "the namespace side of the veth should not be visible from the root namespace";
  EXPECT_EQ(net_->exec_in_namespace({"sh", "-c", "exit 3"}), 3);
}

TEST_F(FakeInternetTest, StateDirHoldsPidLogAndStderr) {
  for (const char* file : {"server.pid", "sink.jsonl", "server.stderr"}) {
    EXPECT_TRUE(path_exists(net_->state_dir() + "/" + file)) << file;
  }
  EXPECT_EQ(run_command({"bash", fixture_script_path(), "status", net_->name()}).exit_code, 0);
}

// Lifecycle tests bring the namespace up and down themselves; the suite above has torn its
// namespace down before these start.
class FakeInternetLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_UNLESS_ROOT(); }
};

TEST_F(FakeInternetLifecycleTest, UpCleansUpAfterACrashedRun) {
  // A crashed run is one whose `down` never happened: `up` again must still succeed.
  for (int i = 0; i < 2; ++i) {
    const CommandResult result = run_command({"bash", fixture_script_path(), "up", kName});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out.rfind(std::string("fake internet ") + kName + " up: ", 0), 0u)
        << result.out;
  }
  auto net = FakeInternet::up(kName);
  const CommandResult result = curl("http://198.51.100.11/");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "hello from 198.51.100.11:80\n");
}

TEST_F(FakeInternetLifecycleTest, DestructionRemovesEverything) {
  std::string state_dir;
  std::string server_pid;
  {
    auto net = FakeInternet::up(kName);
    state_dir = net->state_dir();
    std::ifstream(state_dir + "/server.pid") >> server_pid;
    ASSERT_FALSE(server_pid.empty());
    EXPECT_TRUE(process_running(server_pid));
    EXPECT_TRUE(netns_listed(kName));
  }
  EXPECT_FALSE(netns_listed(kName));
  EXPECT_NE(run_command({"ip", "link", "show", "dev", std::string(kName) + "-h"}).exit_code, 0);
  EXPECT_EQ(run_command({"ip", "route", "show", "203.0.113.0/24"}).out, "");
  EXPECT_EQ(run_command({"ip", "-6", "route", "show", "2001:db8:1::/64"}).out, "");
  EXPECT_EQ(run_command({"ip", "-o", "addr", "show", "to", "198.51.100.0/24"}).out, "");
  EXPECT_FALSE(path_exists(state_dir));
  EXPECT_FALSE(process_running(server_pid));
}

TEST_F(FakeInternetLifecycleTest, SecondFakeInternetUnderAnotherNameIsRefused) {
  auto net = FakeInternet::up(kName);
  try {
    FakeInternet::up("cgfwfj");
    FAIL() << "a second fake internet with the same addresses must not come up";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("already"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(netns_listed("cgfwfj"));
  EXPECT_EQ(curl("http://198.51.100.11/").out, "hello from 198.51.100.11:80\n");
}

TEST_F(FakeInternetLifecycleTest, BadNameFailsWithTheScriptsMessage) {
  try {
    FakeInternet::up("much_too_long");
    FAIL() << "a name too long for interface names must be rejected";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("usage"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace cgfw::testing
