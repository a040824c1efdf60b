// The web proxy for real: curl, git, wget and python against nginx in the fake internet, where
// several names share one address like a CDN. Passthrough keeps the server's own certificate;
// hosts with URL rules are intercepted with the run's CA and checked request by request.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Web : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
    ca_ = net_->state_dir() + "/ca.pem";
  }

  // The fake internet's resolver as upstream; its CA trusted for intercepted servers.
  std::vector<std::string> args(const std::vector<std::string>& more) {
    std::vector<std::string> out{"--dns-upstream", FakeInternet::kDnsV4, "--upstream-ca", ca_};
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }

  static std::vector<json> events(const json& report, const std::string& layer) {
    std::vector<json> found;
    for (const auto& event : report["events"])
      if (event["layer"] == layer) found.push_back(event);
    return found;
  }

  std::unique_ptr<FakeInternet> net_;
  std::string ca_;
};

// The "done means", first half.
TEST_F(Web, UrlRuleAllowsTheRepositoryAndRefusesOtherPaths) {
  auto result = run_sandbox(
      args({"-a", "https://allowed.test/org/*"}),
      {"sh", "-c",
       "cd \"$(mktemp -d)\" && git clone -q https://allowed.test/org/repo.git && cat repo/README "
       "&& "
       "curl -sS --max-time 5 -o /dev/null -w '%{http_code}\\n' https://allowed.test/other/"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, "hello from the fake internet\n403\n") << result.err;
  ASSERT_TRUE(result.report);
  bool clone_allowed = false;
  bool other_blocked = false;
  for (const auto& event : events(*result.report, "http")) {
    std::string url = event.value("url", "");
    if (url.rfind("https://allowed.test/org/repo.git/", 0) == 0 && event["decision"] == "allowed") {
      clone_allowed = true;
      EXPECT_EQ(event["method"], "GET");
      EXPECT_EQ(event["status"], 200);
      EXPECT_EQ(event["rule"]["text"], "https://allowed.test/org/*");
      EXPECT_NE(event["process"]["exe"].get<std::string>().find("git"), std::string::npos);
    }
    if (url == "https://allowed.test/other/") {
      other_blocked = event["decision"] == "blocked";
      EXPECT_EQ(event["process"]["exe"], "/usr/bin/curl");
      EXPECT_NE(event["reason"].get<std::string>().find("no URL rule"), std::string::npos);
    }
  }
  EXPECT_TRUE(clone_allowed) << result.report->dump(2);
  EXPECT_TRUE(other_blocked) << result.report->dump(2);
  EXPECT_NE(result.err.find("GET https://allowed.test/other/"), std::string::npos) << result.err;
  EXPECT_EQ(schema_errors(*result.report), "");
}

// The "done means", second half: SNI allowed, Host not, the CDN address never resolved
// in this run. Refused before any byte leaves (the address is not allowed at all).
TEST_F(Web, DomainFrontingIsBlocked) {
  auto result = run_sandbox(
      args({"-a", "allowed.test"}),
      {"curl", "-sS", "--max-time", "5", "--cacert", ca_, "--resolve",
       "allowed.test:443:198.51.100.20", "-H", "Host: evil.test", "https://allowed.test/whoami"});
  EXPECT_NE(result.exit_status, 0);
  ASSERT_TRUE(result.report);
  bool blocked = false;
  for (const auto& event : result.report->at("events")) {
    if (event["ip"] != "198.51.100.20" || event["decision"] != "blocked") continue;
    blocked = true;
    EXPECT_GT(event["process"]["pid"].get<int>(), 1);
    EXPECT_EQ(event["process"]["exe"], "/usr/bin/curl");
  }
  EXPECT_TRUE(blocked) << result.report->dump(2);
  std::ifstream log(net_->state_dir() + "/nginx-access.log");
  std::string line;
  while (std::getline(log, line)) EXPECT_EQ(line.find("evil.test"), std::string::npos) << line;
}

// Fronting proper: the address is allowed (resolved for y.allowed.test), the SNI is allowed
// (allowed.test), but the address was never resolved for that SNI.
TEST_F(Web, ServerNameOnAnAddressResolvedForAnotherNameIsFronting) {
  auto result =
      run_sandbox(args({"-a", "allowed.test", "-a", "y.allowed.test"}),
                  {"sh", "-c",
                   "getent ahosts y.allowed.test >/dev/null && curl -sS --max-time 5 --cacert " +
                       ca_ + " --resolve allowed.test:443:198.51.100.11 https://allowed.test/"});
  EXPECT_EQ(result.exit_status, 35) << result.err;
  EXPECT_NE(result.err.find("domain fronting: the server name 'allowed.test' is allowed, but "
                            "198.51.100.11:443 was not resolved for it"),
            std::string::npos)
      << result.err;
  ASSERT_TRUE(result.report);
  bool tls = false;
  for (const auto& event : result.report->at("events"))
    tls |= event["layer"] == "tls" && event["decision"] == "blocked" &&
           event["process"]["exe"] == "/usr/bin/curl";
  EXPECT_TRUE(tls);
}

TEST_F(Web, PassthroughKeepsTheServersOwnCertificate) {
  auto result = run_sandbox(
      args({"-a", "allowed.test"}),
      {"sh", "-c",
       "openssl s_client -connect allowed.test:443 -servername allowed.test -CAfile " + ca_ +
           " </dev/null 2>/dev/null | grep -E '^issuer|Verify return code'; "
           "curl -sS --max-time 5 --cacert " +
           ca_ + " https://allowed.test/whoami"});
  EXPECT_NE(result.out.find("issuer=CN = cgfw fake internet test CA"), std::string::npos)
      << result.out << result.err;
  EXPECT_NE(result.out.find("Verify return code: 0 (ok)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("host=allowed.test sni=allowed.test"), std::string::npos);
  ASSERT_TRUE(result.report);
  auto tls = events(*result.report, "tls");
  ASSERT_FALSE(tls.empty());
  EXPECT_EQ(tls[0]["decision"], "allowed");
  EXPECT_GT(tls[0]["bytes_down"].get<int>(), 0);
}

// An address nothing allows is refused at connect() (packet layer). Once allowed.test has been
// resolved, its CDN address reaches the web proxy, which judges each name on it.
TEST_F(Web, OtherHostsNoSniAndPlainHttpHostChecks) {
  auto result = run_sandbox(
      args({"-a", "allowed.test"}),
      {"sh", "-c",
       "getent ahosts allowed.test >/dev/null; curl -sS --max-time 5 --cacert " + ca_ +
           " --resolve evil.test:443:198.51.100.20 "
           "https://evil.test/ ; echo \"evil=$?\"; "
           "openssl s_client -connect 198.51.100.20:443 -noservername </dev/null >/dev/null 2>&1; "
           "echo \"nosni=$?\"; "
           "curl -sS --max-time 5 http://allowed.test/other/; "
           "curl -sS --max-time 5 -o /dev/null -w '%{http_code}\\n' -H 'Host: evil.test' "
           "http://allowed.test/whoami"});
  EXPECT_NE(result.out.find("evil=35"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("nosni=1"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("other page\n403\n"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("no rule allows the server name 'evil.test'"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("without a server name"), std::string::npos) << result.err;
}

TEST_F(Web, InterceptedConnectionsCheckEveryRequest) {
  // One keep-alive connection: an allowed request, then a Host switch, which is refused.
  const std::string code =
      "import http.client, ssl\n"
      "c = http.client.HTTPSConnection('allowed.test', context=ssl.create_default_context(), "
      "timeout=5)\n"
      "c.request('GET', '/org/index.html'); r = c.getresponse(); print(r.status, "
      "r.read().decode().strip())\n"
      "c.request('GET', '/org/index.html', headers={'Host': 'evil.test'}); r = c.getresponse()\n"
      "print(r.status)\n";
  auto result =
      run_sandbox(args({"-a", "https://allowed.test/org/*"}), {"/usr/bin/python3", "-c", code});
  EXPECT_EQ(result.out, "200 org page\n403\n") << result.err;
  EXPECT_NE(result.err.find("Host"), std::string::npos) << result.err;
}

TEST_F(Web, ConnectAndAbsoluteFormAreRefused) {
  const std::string code =
      "import socket, ssl\n"
      "for scheme, port in (('http', 80), ('https', 443)):\n"
      "  for line in ('CONNECT evil.test:443 HTTP/1.1', 'GET http://evil.test/ HTTP/1.1'):\n"
      "    s = socket.create_connection(('allowed.test', port), timeout=5)\n"
      "    if scheme == 'https':\n"
      "      s = ssl.create_default_context().wrap_socket(s, server_hostname='allowed.test')\n"
      "    s.sendall((line + '\\r\\nHost: allowed.test\\r\\n\\r\\n').encode())\n"
      "    print(scheme, s.recv(100).split(b'\\r\\n')[0].decode())\n";
  auto result = run_sandbox(args({"-a", "https://allowed.test/org/*", "-a", "allowed.test:80"}),
                            {"/usr/bin/python3", "-c", code});
  EXPECT_EQ(result.out,
            "http HTTP/1.1 403 Forbidden\nhttp HTTP/1.1 403 Forbidden\n"
            "https HTTP/1.1 403 Forbidden\nhttps HTTP/1.1 403 Forbidden\n")
      << result.err;
}

TEST_F(Web, InvalidUpstreamCertificateIsRefusedWithAClearReason) {
  auto result = run_sandbox(args({"-a", "https://badcert.allowed.test/*"}),
                            {"curl", "-sS", "--max-time", "10", "https://badcert.allowed.test/"});
  EXPECT_NE(result.out.find("certificate verification failed"), std::string::npos)
      << result.out << result.err;
  ASSERT_TRUE(result.report);
  bool reported = false;
  for (const auto& event : events(*result.report, "http"))
    reported |= event["decision"] == "blocked" &&
                event["reason"].get<std::string>().find("certificate verification failed") !=
                    std::string::npos;
  EXPECT_TRUE(reported) << result.report->dump(2);
}

// The upstream server is down (nothing listens on the port): the client gets an answer at once,
// and the report says why.
TEST_F(Web, UpstreamServerDownIsAClearBlockedReason) {
  auto result = run_sandbox(args({"--tls-port", "9443", "-a", "https://x.allowed.test:9443/*"}),
                            {"curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                             "%{http_code}\n", "https://x.allowed.test:9443/"});
  EXPECT_EQ(result.out, "502\n") << result.err;
  ASSERT_TRUE(result.report);
  bool reported = false;
  for (const auto& event : events(*result.report, "http"))
    reported |= event["decision"] == "blocked" &&
                event["reason"].get<std::string>().find("refused") != std::string::npos;
  EXPECT_TRUE(reported) << result.report->dump(2);
}

TEST_F(Web, WgetAndPythonTrustTheRunCa) {
  auto result = run_sandbox(args({"-a", "https://allowed.test/org/*"}),
                            {"sh", "-c",
                             "wget -q -O - https://allowed.test/org/index.html && "
                             "/usr/bin/python3 -c \"import urllib.request; "
                             "print(urllib.request.urlopen('https://allowed.test/org/"
                             "index.html').read().decode().strip())\" && "
                             "echo \"bundle=$SSL_CERT_FILE\""});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("org page\norg page\nbundle=/"), std::string::npos) << result.out;
}

TEST_F(Web, LargeDownloadsArriveIntact) {
  // 100 MiB through passthrough and through interception; checksums compared with the file.
  std::string big = net_->state_dir() + "/www/org/big.bin";
  ASSERT_EQ(run_command({"sh", "-c", "head -c 104857600 /dev/urandom > " + big}).exit_code, 0);
  auto expected = run_command({"sh", "-c", "sha256sum < " + big + " | cut -d' ' -f1"}).out;
  ASSERT_EQ(expected.size(), 65u);
  auto passthrough =
      run_sandbox(args({"-q", "-a", "allowed.test"}),
                  {"sh", "-c",
                   "curl -sS --max-time 60 --cacert " + ca_ +
                       " https://allowed.test/org/big.bin | sha256sum | cut -d' ' -f1"});
  EXPECT_EQ(passthrough.out, expected) << passthrough.err;
  auto intercepted = run_sandbox(
      args({"-q", "-a", "https://allowed.test/org/*"}),
      {"sh", "-c",
       "curl -sS --max-time 60 https://allowed.test/org/big.bin | sha256sum | cut -d' ' -f1"});
  EXPECT_EQ(intercepted.out, expected) << intercepted.err;
  ASSERT_TRUE(intercepted.report);
  for (const auto& event : events(*intercepted.report, "http")) {
    if (event.value("url", "") == "https://allowed.test/org/big.bin") {
      EXPECT_GT(event["bytes_down"].get<std::uint64_t>(), 104857600u);
    }
  }
}

TEST_F(Web, ManyParallelConnections) {
  auto result =
      run_sandbox(args({"-q", "-a", "allowed.test", "-a", "https://other.test/other/*"}),
                  {"sh", "-c",
                   "seq 1 40 | xargs -P 20 -I{} sh -c 'curl -sS --max-time 20 --cacert " + ca_ +
                       " https://allowed.test/org/index.html; curl -sS --max-time 20 "
                       "https://other.test/other/index.html' | sort | uniq -c"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("     40 org page"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("     40 other page"), std::string::npos) << result.out;
}

TEST_F(Web, AuditModePassesEverythingAndReportsIt) {
  auto result = run_sandbox(args({"--audit", "-a", "allowed.test"}),
                            {"sh", "-c",
                             "curl -sS --max-time 5 --cacert " + ca_ +
                                 " https://evil.test/ && "
                                 "curl -sS --max-time 5 http://evil.test/"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  // evil.test is the sink at 198.51.100.11 / 2001:db8::11 (tests/fixtures/dns_server.py).
  EXPECT_EQ(result.out, "hello from 2001:db8::11:443\nhello from 2001:db8::11:80\n");
  ASSERT_TRUE(result.report);
  bool tls = false;
  bool http = false;
  for (const auto& event : result.report->at("events")) {
    if (event.value("domain", "") != "evil.test" || !event["would_block"].get<bool>()) continue;
    tls |= event["layer"] == "tls";
    http |= event["layer"] == "http";
    EXPECT_EQ(event["decision"], "allowed");
  }
  EXPECT_TRUE(tls && http) << result.report->dump(2);
}

}  // namespace
}  // namespace cgfw::testing
