// Escapes around the network policy: other system-call paths to the same connect (io_uring, TCP
// Fast Open), UDP sockets that connect to one place and send to another, multicast and
// broadcast, devices and namespaces that would make a network of their own, sockets opened
// before the sandbox, and cgfw's own proxies reached without being redirected. Each attempt is
// made by the probe inside the real sandbox; each must fail, reach nothing, and be reported.
#include <set>

#include "tests/security/escape_fixture.h"

namespace cgfw::testing {
namespace {

using namespace std::chrono_literals;

// io_uring's connect and send take the kernel's connect path, so the cgroup hooks judge them:
// the allowed control succeeds (the probe works), the other is refused and reported.
TEST_F(Escape, IoUringConnectIsJudgedLikeConnect) {
  auto result =
      run_sandbox({"-a", "198.51.100.10"},
                  {"sh", "-c",
                   std::string(CGFW_ESCAPE_PROBE) + " io-uring-connect 198.51.100.10 9000; " +
                       CGFW_ESCAPE_PROBE + " io-uring-connect 198.51.100.11 9000; " +
                       CGFW_ESCAPE_PROBE + " io-uring-connect 2001:db8::11 9000"});
  EXPECT_EQ(result.out,
            "OK connected sent=35\nREFUSED connect EPERM Operation not permitted\n"
            "REFUSED connect EPERM Operation not permitted\n")
      << result.err;
  ASSERT_TRUE(net_->wait_for_hits("198.51.100.10", 9000, 1, 5s));
  expect_nothing_reached("198.51.100.10");
  ASSERT_TRUE(result.report);
  EXPECT_EQ(blocked(*result.report, "198.51.100.11", 9000).size(), 1u);
  EXPECT_EQ(blocked(*result.report, "2001:db8::11", 9000).size(), 1u);
}

// TCP Fast Open puts data in the SYN of a sendto(): the connect hook runs before the SYN exists.
TEST_F(Escape, TcpFastOpenDataNeverLeaves) {
  auto result =
      run_sandbox({"-a", "198.51.100.10"}, probe({"tcp-fast-open", "198.51.100.11", "9000"}));
  EXPECT_EQ(result.out, "REFUSED sendto EPERM Operation not permitted\n") << result.err;
  expect_nothing_reached();
  ASSERT_TRUE(result.report);
  EXPECT_EQ(blocked(*result.report, "198.51.100.11", 9000).size(), 1u);
}

// A UDP socket connected to an allowed address is judged again for every datagram sent
// elsewhere with sendto() or sendmsg().
TEST_F(Escape, UdpConnectedToOnePlaceCannotSendToAnother) {
  for (const char* how : {"udp-connect-then-sendto", "udp-connect-then-sendmsg"}) {
    net_->clear_log();
    auto result = run_sandbox({"-a", "198.51.100.10:9999/udp"},
                              probe({how, "198.51.100.10", "9999", "198.51.100.11", "9999"}));
    std::string step = std::string(how).substr(std::string(how).rfind('-') + 1);
    EXPECT_EQ(result.out, "REFUSED " + step + " EPERM Operation not permitted\n")
        << how << ": " << result.err;
    ASSERT_TRUE(net_->wait_for_hits("198.51.100.10", 9999, 1, 5s)) << "the allowed datagram";
    expect_nothing_reached("198.51.100.10");
    ASSERT_TRUE(result.report);
    auto events = blocked(*result.report, "198.51.100.11", 9999);
    ASSERT_EQ(events.size(), 1u) << how;
    EXPECT_EQ(events[0]["protocol"], "udp");
  }
}

// Broadcast to the fake internet's subnet and multicast: no rule names them, so they are
// destinations like any other.
TEST_F(Escape, BroadcastAndMulticastAreRefused) {
  auto result = run_sandbox(
      {"-a", "198.51.100.10:9999/udp"},
      {"sh", "-c",
       std::string(CGFW_ESCAPE_PROBE) + " broadcast 198.51.100.255 9999; " + CGFW_ESCAPE_PROBE +
           " broadcast 255.255.255.255 9999; " + CGFW_ESCAPE_PROBE +
           " multicast 224.0.0.251 5353; " + CGFW_ESCAPE_PROBE + " multicast ff02::fb 5353"});
  EXPECT_EQ(result.out,
            "REFUSED sendto EPERM Operation not permitted\n"
            "REFUSED sendto EPERM Operation not permitted\n"
            "REFUSED sendto EPERM Operation not permitted\n"
            "REFUSED sendto EPERM Operation not permitted\n")
      << result.err;
  expect_nothing_reached();
  ASSERT_TRUE(result.report);
  for (const char* ip : {"198.51.100.255", "255.255.255.255", "224.0.0.251", "ff02::fb"})
    EXPECT_EQ(blocked(*result.report, ip).size(), 1u) << ip;
}

// A TUN or TAP device is a network interface whose packets no socket of the sandbox sends, so
// the egress program never sees them. Opening /dev/net/tun is refused by the cgroup's device
// program and reported, even in a user+network namespace made inside, where the process would
// hold CAP_NET_ADMIN over its own namespace.
TEST_F(Escape, NoTunOrTapDevice) {
  std::string p = CGFW_ESCAPE_PROBE;
  auto result = run_sandbox(
      {},
      {"sh", "-c", p + " tun; " + p + " tap; unshare --user --map-root-user --net " + p + " tun"});
  EXPECT_EQ(result.out,
            "REFUSED open EPERM Operation not permitted\n"
            "REFUSED open EPERM Operation not permitted\n"
            "REFUSED open EPERM Operation not permitted\n")
      << result.err;
  EXPECT_EQ(run_command({"ip", "link", "show", "cgfwprobe0"}).exit_code, 1);
  ASSERT_TRUE(result.report);
  int refused = 0;
  for (const auto& event : (*result.report)["events"]) {
    if (event["layer"] != "device") continue;
    EXPECT_EQ(event["path"], "/dev/net/tun");
    EXPECT_EQ(event["decision"], "blocked");
    EXPECT_EQ(event["process"]["comm"], "cgfw_escape_pro");
    refused += event["count"].get<int>();
  }
  EXPECT_EQ(refused, 3) << result.report->dump(2);
  EXPECT_EQ((*result.report)["summary"]["kernel"]["devices_refused"], 3);
}

// A network namespace made inside (through a user namespace, no privilege needed) has no way
// out, and the cgroup hooks judge its sockets all the same: the connect is refused and reported
// before routing would have failed it.
TEST_F(Escape, NetworkNamespaceMadeInsideIsStillPoliced) {
  auto result =
      run_sandbox({"-a", "198.51.100.10"},
                  {"sh", "-c",
                   std::string(CGFW_ESCAPE_PROBE) + " unshare-net-lo 198.51.100.11 9000; " +
                       CGFW_ESCAPE_PROBE + " unshare-net 198.51.100.10 9000"});
  EXPECT_EQ(result.out,
            "REFUSED connect EPERM Operation not permitted\n"
            "REFUSED connect ENETUNREACH Network is unreachable\n")
      << result.err;
  expect_nothing_reached();
  ASSERT_TRUE(result.report);
  EXPECT_EQ(blocked(*result.report, "198.51.100.11", 9000).size(), 1u);
}

// A socket connected before the sandbox started (by whatever ran cgfw-sandbox) is not passed
// in: every descriptor above stderr is closed before the command runs.
TEST_F(Escape, SocketsOpenedOutsideAreNotInherited) {
  auto result =
      run_command({"bash", "-c",
                   "exec 7<>/dev/tcp/198.51.100.11/9000 || exit 9; " +
                       std::string(CGFW_SANDBOX_BINARY) + " -q -- sh -c '" + CGFW_ESCAPE_PROBE +
                       " inherited-fd 7; " + CGFW_ESCAPE_PROBE + " send-fd 7'"});
  EXPECT_EQ(result.out,
            "REFUSED fcntl EBADF Bad file descriptor\nREFUSED send EBADF Bad file descriptor\n")
      << result.err;
  ASSERT_TRUE(net_->wait_for_hits("198.51.100.11", 9000, 1, 5s)) << "the outside connection";
  expect_nothing_reached();
}

// The proxies listen on loopback, which the sandbox may reach. Reached directly (not through a
// redirect), neither has an original destination to judge: both refuse, and say so.
TEST_F(Escape, ProxiesReachedDirectlyGiveNothingAway) {
  // Every loopback listener gets an HTTP request (TCP) or a DNS query for a blocked name (UDP);
  // the probe prints which answered. The proxies' ports come from cgfw's debug log.
  const std::string code =
      "import socket\n"
      "def listeners(table, state):\n"
      "  out = []\n"
      "  for line in open(table).read().splitlines()[1:]:\n"
      "    f = line.split()\n"
      "    ip, port = f[1].split(':')\n"
      "    if f[3] == state and ip == '0100007F': out.append(int(port, 16))\n"
      "  return out\n"
      "for port in listeners('/proc/net/tcp', '0A'):\n"
      "  try:\n"
      "    s = socket.create_connection(('127.0.0.1', port), timeout=2)\n"
      "    s.sendall(b'GET /cgfw-escape-probe HTTP/1.1\\r\\nHost: 198.51.100.11\\r\\n\\r\\n')\n"
      "    if s.recv(100): print('answered tcp', port)\n"
      "  except OSError: pass\n"
      "query = b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00"
      "\\x04evil\\x04test\\x00\\x00\\x01\\x00\\x01'\n"
      "for port in listeners('/proc/net/udp', '07'):\n"
      "  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)\n"
      "  try:\n"
      "    s.sendto(query, ('127.0.0.1', port)); s.recv(512); print('answered udp', port)\n"
      "  except OSError: pass\n"
      "print('done')\n";
  auto result = run_sandbox({"-v", "-a", "allowed.test", "--dns-upstream", "198.51.100.53"},
                            {"/usr/bin/python3", "-c", code});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  auto port_after = [&](const std::string& text) {
    auto at = result.err.find(text);
    return at == std::string::npos
               ? std::string("?")
               : result.err.substr(at + text.size(),
                                   result.err.find_first_not_of("0123456789", at + text.size()) -
                                       at - text.size());
  };
  std::string dns_port = port_after("DNS proxy on 127.0.0.1:");
  std::string web_port = port_after("web proxy on 127.0.0.1:");
  ASSERT_NE(dns_port, "?") << result.err;
  ASSERT_NE(web_port, "?") << result.err;
  EXPECT_NE(result.out.find("done"), std::string::npos) << result.out << result.err;
  EXPECT_EQ(result.out.find("answered udp " + dns_port + "\n"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("answered tcp " + web_port + "\n"), std::string::npos) << result.out;
  expect_nothing_reached();
  EXPECT_TRUE(net_->dns_queries_for("evil.test").empty());
  ASSERT_TRUE(result.report);
  std::set<std::string> named;
  for (const auto& event : (*result.report)["events"]) {
    if (event["decision"] != "blocked" || event["ip"] != "127.0.0.1") continue;
    EXPECT_NE(event["reason"].get<std::string>().find("directly"), std::string::npos) << event;
    EXPECT_EQ(event["process"]["comm"], "python3");
    named.insert(std::to_string(event["port"].get<int>()));
  }
  EXPECT_EQ(named.count(dns_port), 1u) << result.report->dump(2);
  EXPECT_EQ(named.count(web_port), 1u) << result.report->dump(2);
}

}  // namespace
}  // namespace cgfw::testing
