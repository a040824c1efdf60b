// Load and faults: many clients at once, clients that stall, an upstream resolver that is down.
// Bounded, against the fake internet only.
#include <gtest/gtest.h>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
  }
  std::unique_ptr<FakeInternet> net_;
};

// A thousand connections open through the web proxy at the same moment, then each fetches a
// page: none is lost.
TEST_F(Faults, AThousandConcurrentConnectionsThroughTheProxiesAllArrive) {
  auto result = run_sandbox(
      {"-q", "-a", "allowed.test", "--dns-upstream", FakeInternet::kDnsV4},
      {"/usr/bin/python3",
       std::string(CGFW_SOURCE_DIR) + "/tests/integration/data/many_connections.py", "1000"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, "ok 1000 of 1000 open at once 1000\n") << result.err;
}

// Clients that open a connection to each proxy and then stall (half a request line; a TCP DNS
// length prefix with no query) do not hold up anyone else: while 50 of each stay open, a normal
// lookup and fetch complete.
TEST_F(Faults, StalledClientsDoNotDelayOthers) {
  const std::string code =
      "import socket, subprocess\n"
      "address = socket.getaddrinfo('allowed.test', 80, socket.AF_INET)[0][4][0]\n"
      "stalled = []\n"
      "for i in range(50):\n"
      "  s = socket.create_connection((address, 80), timeout=5)\n"
      "  s.sendall(b'GET /org/index.html HTTP/1.1\\r\\nHost: allo'); stalled.append(s)\n"
      "  d = socket.create_connection(('198.51.100.53', 53), timeout=5)\n"
      "  d.sendall(b'\\x00'); stalled.append(d)\n"
      "fetched = subprocess.run(['curl', '-sS', '--max-time', '20', "
      "'http://allowed.test/org/index.html'], capture_output=True, text=True)\n"
      "print(fetched.stdout.strip(), len(stalled))\n";
  auto result = run_sandbox({"-q", "-a", "allowed.test", "--dns-upstream", FakeInternet::kDnsV4},
                            {"/usr/bin/python3", "-c", code});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, "org page 100\n") << result.err;
}

// The upstream resolver refuses (closed port: ICMP) or never answers (no such host): the client
// gets SERVFAIL, not a hang, and the report says why.
TEST_F(Faults, UpstreamDnsDownGivesServfailAndSaysSo) {
  for (const std::string upstream : {"198.51.100.53:5", "203.0.113.99"}) {
    auto result = run_sandbox({"-q", "-a", "allowed.test", "--dns-upstream", upstream},
                              {"dig", "+tries=1", "+timeout=30", "allowed.test"});
    EXPECT_NE(result.out.find("status: SERVFAIL"), std::string::npos)
        << upstream << ": " << result.out << result.err;
    ASSERT_TRUE(result.report);
    bool said = false;
    for (const auto& event : (*result.report)["events"])
      said |= event.value("domain", "") == "allowed.test" &&
              event.value("reason", "").find("upstream DNS failed") == 0;
    EXPECT_TRUE(said) << upstream << ": " << result.report->dump(2);
  }
}

}  // namespace
}  // namespace cgfw::testing
