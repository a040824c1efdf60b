// The DNS half of the sandbox for real: every query a sandboxed process makes reaches cgfw's DNS
// proxy, whatever resolver it names; only allowed names reach the fake internet's DNS server
// (whose own query log is the witness), and only their addresses become reachable.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>
#include <string>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::vector<std::string> python(const std::string& code) {
  return {"/usr/bin/python3", "-c", code};
}

// A DNS query for NAME as a python bytes expression, and a helper that sends it with sendto()
// to RESOLVER and prints the response code (or "timeout").
std::string raw_query_script(const std::string& name, const std::string& resolver, int family = 4) {
  return "import socket, struct\n"
         "name = '" +
         name +
         "'\n"
         "q = struct.pack('!HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0)\n"
         "q += b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0'\n"
         "q += struct.pack('!HH', 1, 1)\n"
         "s = socket.socket(socket.AF_INET" +
         std::string(family == 6 ? "6" : "") +
         ", socket.SOCK_DGRAM)\n"
         "s.settimeout(3)\n"
         "s.sendto(q, ('" +
         resolver +
         "', 53))\n"
         "try:\n"
         "  data, peer = s.recvfrom(4096)\n"
         "  print('rcode', data[3] & 15, 'from', peer[0], 'id', hex(struct.unpack('!H', "
         "data[:2])[0]))\n"
         "except socket.timeout:\n"
         "  print('timeout')\n";
}

class Dns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
    ca_ = net_->state_dir() + "/ca.pem";
  }

  // Rules plus the fake internet's resolver as upstream (never the host's own).
  std::vector<std::string> args(std::vector<std::string> rules) {
    std::vector<std::string> out{"--dns-upstream", FakeInternet::kDnsV4};
    for (std::size_t i = 0; i < rules.size(); ++i) {
      auto& rule = rules[i];
      if ((rule == "--dns-block-rcode" || rule == "--dns-min-ttl") && i + 1 < rules.size()) {
        out.push_back(rule);
        out.push_back(rules[++i]);
        continue;
      }
      if (rule.rfind("-", 0) == 0) {
        out.push_back(rule);
        continue;
      }
      out.push_back("-a");
      out.push_back(rule);
    }
    return out;
  }

  static std::vector<json> dns_events(const json& report, const std::string& name) {
    std::vector<json> found;
    for (const auto& event : report["events"])
      if (event["layer"] == "dns" && event.value("domain", "") == name) found.push_back(event);
    return found;
  }

  std::unique_ptr<FakeInternet> net_;
  std::string ca_;
};

// The "done means": allowed name works over HTTPS; evil.test fails fast through curl,
// dig @resolver and a raw sendto(), is reported with pid and exe, and never reaches upstream.
TEST_F(Dns, AllowedNameWorksBlockedNameFailsFastAndNeverReachesUpstream) {
  auto result = run_sandbox(
      args({"*.allowed.test"}),
      {"sh", "-c",
       "curl -sS --max-time 5 --cacert " + ca_ +
           " https://x.allowed.test/ && "
           "! curl -sS --max-time 5 http://evil.test/ && "
           "dig +time=2 +tries=1 @198.51.100.53 evil.test | grep -q 'status: NXDOMAIN' && "
           "/usr/bin/python3 -c \"" +
           std::string("exec(open('/dev/stdin').read())") + "\" <<'EOF'\n" +
           raw_query_script("evil.test", "203.0.113.77") + "EOF\n"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("hello from"), std::string::npos) << result.out;
  // The raw query got NXDOMAIN (3), apparently from the resolver it asked, with its own id.
  EXPECT_NE(result.out.find("rcode 3 from 203.0.113.77 id 0x1234"), std::string::npos)
      << result.out;
  EXPECT_NE(result.err.find("cgfw: blocked curl["), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("-> evil.test A at dns layer: no rule allows this name; to allow it, "
                            "add the rule: evil.test"),
            std::string::npos)
      << result.err;
  ASSERT_TRUE(result.report);
  auto blocked = dns_events(*result.report, "evil.test");
  ASSERT_FALSE(blocked.empty());
  std::set<std::string> exes;
  for (const auto& event : blocked) {
    EXPECT_EQ(event["decision"], "blocked");
    EXPECT_GT(event["process"]["pid"].get<int>(), 1);
    exes.insert(event["process"]["exe"].is_string() ? event["process"]["exe"].get<std::string>()
                                                    : "?");
  }
  EXPECT_TRUE(exes.count("/usr/bin/curl")) << json(exes).dump();
  EXPECT_TRUE(exes.count("/usr/bin/dig")) << json(exes).dump();
  EXPECT_TRUE(exes.count("/usr/bin/python3.11")) << json(exes).dump();
  EXPECT_TRUE(net_->dns_queries_for("evil.test").empty()) << "evil.test reached the upstream";
  EXPECT_FALSE(net_->dns_queries_for("x.allowed.test").empty());
  auto allowed = dns_events(*result.report, "x.allowed.test");
  ASSERT_FALSE(allowed.empty());
  EXPECT_EQ(allowed[0]["decision"], "allowed");
  EXPECT_EQ(allowed[0]["rule"]["text"], "*.allowed.test");
  EXPECT_EQ(schema_errors(*result.report), "");
}

TEST_F(Dns, WildcardApexLabelBoundaryCaseTrailingDotAndIdn) {
  const std::string resolve =
      "import socket, sys\n"
      "for name in sys.argv[1:]:\n"
      "  try:\n"
      "    socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM); print(name, 'ok')\n"
      "  except socket.gaierror: print(name, 'no')\n";
  auto result = run_sandbox(
      args({"*.allowed.test"}),
      {"/usr/bin/python3", "-c", resolve, "x.allowed.test", "deep.sub.allowed.test", "allowed.test",
       "evilallowed.test", "X.ALLOWED.Test", "y.allowed.test.", "bücher.allowed.test"});
  EXPECT_EQ(result.out,
            "x.allowed.test ok\ndeep.sub.allowed.test ok\nallowed.test no\nevilallowed.test no\n"
            "X.ALLOWED.Test ok\ny.allowed.test. ok\nbücher.allowed.test ok\n")
      << result.err;
  EXPECT_TRUE(net_->dns_queries_for("allowed.test").empty()) << "the apex is not below itself";
  EXPECT_TRUE(net_->dns_queries_for("evilallowed.test").empty())
      << "no match without a label boundary";

  auto exact = run_sandbox(
      args({"bücher.allowed.test", "allowed.test"}),
      {"/usr/bin/python3", "-c", resolve, "bücher.allowed.test", "allowed.test", "x.allowed.test"});
  EXPECT_EQ(exact.out, "bücher.allowed.test ok\nallowed.test ok\nx.allowed.test no\n") << exact.err;
}

TEST_F(Dns, EveryWayOfAskingGoesThroughTheProxy) {
  // getent (glibc via /etc/resolv.conf's resolver), dig to the real resolver, to loopback
  // resolvers that do not exist, over IPv6, and over TCP.
  auto result = run_sandbox(args({"*.allowed.test"}),
                            {"sh", "-c",
                             "getent hosts y.allowed.test && "
                             "dig +short +time=2 +tries=1 @198.51.100.53 y.allowed.test && "
                             "dig +short +time=2 +tries=1 @127.0.0.53 y.allowed.test && "
                             "dig +short +time=2 +tries=1 @127.0.0.1 y.allowed.test && "
                             "dig +short +time=2 +tries=1 @2001:db8::53 y.allowed.test && "
                             "dig +short +time=2 +tries=1 @::1 y.allowed.test && "
                             "dig +short +tcp +time=2 +tries=1 @198.51.100.53 y.allowed.test && "
                             "dig +short +tcp +time=2 +tries=1 @203.0.113.99 y.allowed.test"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out,
            "198.51.100.11   y.allowed.test\n198.51.100.11\n198.51.100.11\n198.51.100.11\n"
            "198.51.100.11\n198.51.100.11\n198.51.100.11\n198.51.100.11\n")
      << result.err;
  ASSERT_TRUE(result.report);
  std::set<std::string> resolvers;
  std::set<std::string> transports;
  for (const auto& event : dns_events(*result.report, "y.allowed.test")) {
    resolvers.insert(event["ip"].get<std::string>());
    transports.insert(event["protocol"].get<std::string>());
  }
  for (const char* resolver :
       {"198.51.100.53", "127.0.0.53", "127.0.0.1", "2001:db8::53", "::1", "203.0.113.99"})
    EXPECT_TRUE(resolvers.count(resolver))
        << resolver << " missing from " << json(resolvers).dump();
  EXPECT_TRUE(transports.count("tcp"));
  EXPECT_TRUE(transports.count("udp"));
}

TEST_F(Dns, RawSendtoToAnyResolverIsAnswered) {
  for (const char* resolver : {"203.0.113.77", "127.0.0.53", "127.0.0.1", "198.51.100.53"}) {
    auto result =
        run_sandbox(args({"*.allowed.test"}), python(raw_query_script("y.allowed.test", resolver)));
    EXPECT_EQ(result.out, std::string("rcode 0 from ") + resolver + " id 0x1234\n") << result.err;
  }
  auto v6 = run_sandbox(args({"*.allowed.test"}),
                        python(raw_query_script("evil.test", "2001:db8::99", 6)));
  EXPECT_EQ(v6.out, "rcode 3 from 2001:db8::99 id 0x1234\n") << v6.err;
}

TEST_F(Dns, TcpQueriesArePipelined) {
  // Five queries written back to back on one connection; every answer comes back with its id.
  const std::string code =
      "import socket, struct\n"
      "def q(i, name):\n"
      "  m = struct.pack('!HHHHHH', 0x100 + i, 0x0100, 1, 0, 0, 0)\n"
      "  m += b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0'\n"
      "  m += struct.pack('!HH', 1, 1)\n"
      "  return struct.pack('!H', len(m)) + m\n"
      "names = ['x.allowed.test', 'evil.test', 'y.allowed.test', 'nope.allowed.test', "
      "'deep.sub.allowed.test']\n"
      "s = socket.create_connection(('198.51.100.53', 53), timeout=5)\n"
      "s.sendall(b''.join(q(i, n) for i, n in enumerate(names)))\n"
      "got = {}\n"
      "for _ in names:\n"
      "  size = struct.unpack('!H', s.recv(2, socket.MSG_WAITALL))[0]\n"
      "  data = s.recv(size, socket.MSG_WAITALL)\n"
      "  got[struct.unpack('!H', data[:2])[0] - 0x100] = data[3] & 15\n"
      "print(' '.join(str(got[i]) for i in range(len(names))))\n";
  auto result = run_sandbox(args({"*.allowed.test"}), python(code));
  EXPECT_EQ(result.out, "0 3 0 3 0\n") << result.err;
  EXPECT_TRUE(net_->dns_queries_for("evil.test").empty());
}

TEST_F(Dns, Ipv6AnswersAndConnects) {
  auto result =
      run_sandbox(args({"*.allowed.test"}), {"sh", "-c",
                                             "curl -6 -sS --max-time 5 http://x.allowed.test/ && "
                                             "curl -sS --max-time 5 http://v6only.allowed.test/"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, "hello from 2001:db8::10:80\nhello from 2001:db8::11:80\n");
  ASSERT_TRUE(result.report);
  bool learned = false;
  for (const auto& event : result.report->at("events"))
    learned |= event["layer"] == "packet" && event["ip"] == "2001:db8::11" &&
               event["decision"] == "allowed" && event.value("domain", "") == "v6only.allowed.test";
  EXPECT_TRUE(learned) << result.report->dump(2);
}

TEST_F(Dns, CnameChainsInAndOutOfTheAllowList) {
  // An allowed name whose chain leaves the list (a CDN) is followed; a name outside the list
  // whose CNAME points into it is not asked at all.
  auto result = run_sandbox(args({"*.allowed.test"}),
                            {"sh", "-c",
                             "curl -sS --max-time 5 http://cdn.allowed.test:8080/ && "
                             "! getent hosts alias.other.test && "
                             "! curl -sS --max-time 5 http://203.0.113.11:8080/"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, "hello from 203.0.113.10:8080\n");
  ASSERT_TRUE(result.report);
  auto cdn = dns_events(*result.report, "cdn.allowed.test");
  ASSERT_FALSE(cdn.empty());
  EXPECT_EQ(cdn[0]["answers"],
            json({"CNAME edge.cdn-provider.test", "CNAME node.cdn-provider.test", "203.0.113.10"}));
  EXPECT_TRUE(net_->dns_queries_for("alias.other.test").empty());
}

TEST_F(Dns, PoisonedRecordsTeachNothing) {
  // poison.allowed.test's answer also carries evil.test and other.test records in every
  // section: only the asked name's address becomes reachable.
  auto result =
      run_sandbox(args({"*.allowed.test"}), {"sh", "-c",
                                             "getent hosts poison.allowed.test && "
                                             "curl -sS --max-time 5 http://198.51.100.10/ && "
                                             "! curl -sS --max-time 5 http://198.51.100.11/ && "
                                             "! curl -sS --max-time 5 http://198.51.100.13/"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  ASSERT_TRUE(result.report);
  bool checked = false;
  for (const auto& event : dns_events(*result.report, "poison.allowed.test")) {
    if (event["qtype"] != "A") continue;
    EXPECT_EQ(event["answers"], json({"198.51.100.10"}));
    checked = true;
  }
  EXPECT_TRUE(checked);
}

TEST_F(Dns, InternalAddressesAreNeverLearned) {
  auto result =
      run_sandbox(args({"*.allowed.test"}), {"sh", "-c",
                                             "getent ahostsv4 internal.allowed.test >/dev/null; "
                                             "curl -sS --max-time 5 http://198.51.100.13/"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  ASSERT_TRUE(result.report);
  auto events = dns_events(*result.report, "internal.allowed.test");
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events[0]["reason"].get<std::string>().find(
                "internal addresses not opened by DNS: 10.1.2.3, 169.254.169.254"),
            std::string::npos)
      << events[0].dump();
}

TEST_F(Dns, LargeAnswersFallBackToTcp) {
  auto result = run_sandbox(
      args({"*.allowed.test"}),
      {"dig", "+time=3", "+tries=1", "+noedns", "@198.51.100.53", "big.allowed.test", "TXT"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("ANSWER: 12"), std::string::npos) << result.out;
  bool over_tcp = false;
  for (const auto& entry : net_->dns_queries_for("big.allowed.test"))
    over_tcp |= entry["transport"] == "tcp";
  EXPECT_TRUE(over_tcp);
}

// Answer-then-connect: the address is in the kernel map before the answer is released, so a
// connect right after the lookup never loses the race. Each run starts with an empty map.
TEST_F(Dns, LookupThenConnectNeverRaces) {
  const std::string code =
      "import socket\n"
      "names = ['x.allowed.test', 'y.allowed.test', 'deep.sub.allowed.test', 'many.allowed.test',"
      " 'v6only.allowed.test']\n"
      "failures = 0\n"
      "for i in range(40):\n"
      "  name = names[i % len(names)]\n"
      "  for family, kind, proto, _, address in socket.getaddrinfo(name, 80, "
      "type=socket.SOCK_STREAM):\n"
      "    s = socket.socket(family, kind)\n"
      "    s.settimeout(5)\n"
      "    try: s.connect(address)\n"
      "    except OSError: failures += 1\n"
      "    s.close()\n"
      "print('failures', failures)\n";
  for (int run = 0; run < 5; ++run) {
    auto result = run_sandbox(args({"*.allowed.test", "-q"}), python(code));
    ASSERT_EQ(result.out, "failures 0\n") << "run " << run << ": " << result.err;
  }
}

TEST_F(Dns, MalformedQueriesDoNotHarmOtherClients) {
  const std::string code =
      "import socket, struct\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)\n"
      "header = struct.pack('!HHHHHH', 7, 0x0100, 1, 0, 0, 0)\n"
      "bad = [b'\\x01', header, header + b'\\xc0\\x0c\\x00\\x01\\x00\\x01',\n"
      "       header + b'\\x03a\\x00b\\x04test\\x00\\x00\\x01\\x00\\x01',\n"
      "       header + b'\\x03a.b\\x04test\\x00\\x00\\x01\\x00\\x01',\n"
      "       header + b'\\x40' + b'a' * 64 + b'\\x00\\x00\\x01\\x00\\x01', b'\\xff' * 3000]\n"
      "answered = 0\n"
      "for m in bad:\n"
      "  s.sendto(m, ('198.51.100.53', 53))\n"
      "  try: s.recvfrom(4096); answered += 1\n"
      "  except socket.timeout: pass\n"
      "t = socket.create_connection(('198.51.100.53', 53), timeout=2)\n"
      "t.sendall(b'\\xff\\xff' + b'x' * 10); t.close()\n"
      "print('survived', answered)\n";
  auto result = run_sandbox(args({"*.allowed.test"}),
                            {"sh", "-c",
                             "/usr/bin/python3 -c \"exec(open('/dev/stdin').read())\" <<'EOF'\n" +
                                 code + "EOF\n" + "getent hosts y.allowed.test"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("survived"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("198.51.100.11   y.allowed.test"), std::string::npos) << result.out;
}

TEST_F(Dns, AuditModeForwardsAndRecordsEverything) {
  auto result = run_sandbox(args({"--audit", "*.allowed.test"}),
                            {"sh", "-c",
                             "curl -sS --max-time 5 http://evil.test/ && "
                             "curl -sS --max-time 5 http://x.allowed.test/"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.err, "");
  ASSERT_TRUE(result.report);
  auto evil = dns_events(*result.report, "evil.test");
  ASSERT_FALSE(evil.empty());
  EXPECT_EQ(evil[0]["decision"], "allowed");
  EXPECT_EQ(evil[0]["would_block"], true);
  EXPECT_EQ(evil[0]["reason"], "no rule allows this name");
  EXPECT_FALSE(evil[0]["answers"].empty());
  EXPECT_FALSE(net_->dns_queries_for("evil.test").empty());
  bool named = false;
  for (const auto& name : (*result.report)["summary"]["names"])
    named |= name["name"] == "evil.test" && name["would_block"] == true;
  EXPECT_TRUE(named);
  EXPECT_EQ(schema_errors(*result.report), "");
}

TEST_F(Dns, BlockRcodeRefused) {
  auto result = run_sandbox(args({"--dns-block-rcode", "refused", "*.allowed.test"}),
                            {"dig", "+time=2", "+tries=1", "@198.51.100.53", "evil.test"});
  EXPECT_NE(result.out.find("status: REFUSED"), std::string::npos) << result.out;
}

TEST_F(Dns, SuspiciousNamesUnderAWildcardAreFlagged) {
  const std::string long_label(45, 'a');
  auto result =
      run_sandbox(args({"*.allowed.test"}),
                  {"sh", "-c",
                   "getent hosts " + long_label +
                       ".allowed.test; getent hosts q8zk3m1x9vb2n7c4lw5r0t6y.allowed.test; true"});
  ASSERT_TRUE(result.report);
  auto events = dns_events(*result.report, long_label + ".allowed.test");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0]["suspicious"], "label of 45 characters");
  auto random = dns_events(*result.report, "q8zk3m1x9vb2n7c4lw5r0t6y.allowed.test");
  ASSERT_FALSE(random.empty());
  EXPECT_NE(random[0]["suspicious"].get<std::string>().find("high-entropy label"),
            std::string::npos);
}

// A learned address expires (TTL 1 s, minimum 2 s here: room for a slow start), yet the connection
// opened while it was allowed keeps working; a new connection to it is refused.
TEST_F(Dns, OpenConnectionsOutliveTheirAddresssExpiry) {
  const std::string code =
      "import socket, time\n"
      "address = socket.getaddrinfo('short.allowed.test', 9000, socket.AF_INET)[0][4]\n"
      "s = socket.create_connection(address, timeout=5)\n"
      "s.sendall(b'before\\n'); print(s.recv(100).decode().strip())\n"
      "time.sleep(5)\n"
      "s.sendall(b'after\\n'); print(s.recv(100).decode().strip())\n"
      "try:\n"
      "  socket.create_connection(address, timeout=5); print('new connection allowed')\n"
      "except PermissionError:\n"
      "  print('new connection refused')\n";
  auto result = run_sandbox(args({"--dns-min-ttl", "2", "*.allowed.test"}), python(code));
  EXPECT_EQ(result.out, "before\nafter\nnew connection refused\n") << result.err;
}

// A UDP socket remembers the last destination it was allowed to send to (so that a stream of
// datagrams skips the rule lookups), but not past the expiry of the address that allowed it:
// unlike a TCP connection, a datagram after the expiry is judged again and refused.
TEST_F(Dns, UdpToAnExpiredAddressIsRefusedEvenOnTheSameSocket) {
  const std::string code =
      "import socket, time\n"
      "address = socket.getaddrinfo('short.allowed.test', 9999, socket.AF_INET)[0][4]\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)\n"
      "s.connect(address)\n"
      "for word in ('one', 'two'):\n"
      "  s.send(word.encode()); print(s.recv(100).decode())\n"
      "time.sleep(5)\n"
      "try:\n"
      "  s.send(b'after'); print(s.recv(100).decode())\n"
      "except PermissionError:\n"
      "  print('after expiry refused')\n";
  auto result = run_sandbox(args({"--dns-min-ttl", "2", "*.allowed.test:9999/udp"}), python(code));
  EXPECT_EQ(result.out, "one\ntwo\nafter expiry refused\n") << result.err;
  EXPECT_FALSE(net_->wait_for_hits("198.51.100.12", 9999, 3, 2s))
      << "the datagram after the expiry reached the server";
}

// Two processes ask at the same moment with the same query id: each gets its own answer and
// the report names the right one (attribution keys on the client endpoint, not the 16-bit id).
TEST_F(Dns, SameQueryIdFromTwoProcessesIsAttributedRight) {
  const std::string one = raw_query_script("x.allowed.test", "198.51.100.53");
  const std::string two = raw_query_script("evil.test", "198.51.100.53");
  auto result = run_sandbox(
      args({"*.allowed.test"}),
      {"sh", "-c",
       "/usr/bin/python3 -c \"$1\" > one.out & a=$!; /usr/bin/python3 -c \"$2\" > two.out & "
       "b=$!; wait $a $b; echo $a $b; cat one.out two.out; rm -f one.out two.out",
       "sh", one, two});
  std::istringstream lines(result.out);
  int pid_one = 0, pid_two = 0;
  lines >> pid_one >> pid_two;
  EXPECT_NE(
      result.out.find("rcode 0 from 198.51.100.53 id 0x1234\nrcode 3 from 198.51.100.53 id 0x1234"),
      std::string::npos)
      << result.out << result.err;
  ASSERT_TRUE(result.report);
  auto allowed = dns_events(*result.report, "x.allowed.test");
  auto blocked = dns_events(*result.report, "evil.test");
  ASSERT_EQ(allowed.size(), 1u);
  ASSERT_EQ(blocked.size(), 1u);
  // $! inside is a pid of the sandbox's PID namespace: the report gives it as sandbox_pid.
  EXPECT_EQ(allowed[0]["process"]["sandbox_pid"], pid_one);
  EXPECT_EQ(blocked[0]["process"]["sandbox_pid"], pid_two);
  EXPECT_NE(allowed[0]["process"]["pid"], pid_one) << "pid is the host's";
}

}  // namespace
}  // namespace cgfw::testing
