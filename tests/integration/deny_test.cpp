// Deny rules in a job: with deny rules only, everything else passes, and what they name is
// refused at every layer that sees it (DNS, SNI, Host, URL path, address); with allow rules too,
// deny wins. Real curl, getent and sockets against the fake internet.
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using nlohmann::json;

class DenyRules : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
    ca_ = net_->state_dir() + "/ca.pem";
  }
  std::vector<std::string> args(const std::vector<std::string>& more) {
    std::vector<std::string> out{"--dns-upstream", FakeInternet::kDnsV4, "--upstream-ca", ca_};
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }
  static bool has_event(const json& report, const std::string& layer, const std::string& what,
                        const std::string& reason_start) {
    for (const auto& event : report["events"]) {
      if (event["layer"] != layer || event["decision"] != "blocked") continue;
      bool names = event.value("domain", "") == what || event.value("url", "") == what ||
                   event.value("ip", "") == what;
      if (names && event.value("reason", "").rfind(reason_start, 0) == 0) return true;
    }
    return false;
  }
  std::unique_ptr<FakeInternet> net_;
  std::string ca_;
};

TEST_F(DenyRules, OnlyDenyRulesAllowTheRestAndRefuseWhatTheyName) {
  const std::string probe = CGFW_ESCAPE_PROBE;
  auto result = run_sandbox(
      args({"--deny", "evil.test", "--deny", "198.51.100.11:9000", "--deny",
            "https://allowed.test/secret/*", "--deny", "*.cdn-provider.test"}),
      {"sh", "-c",
       // Not denied: passes without any allow rule, by name and by address.
       "curl -sS --max-time 5 -o /dev/null -w 'whoami %{http_code}\\n' "
       "https://allowed.test/whoami; " +
           probe +
           " tcp-connect 198.51.100.10 9000; "
           // Denied: a path (403 from cgfw), a name in DNS, the same name by SNI on an address no
           // rule names, and an address.
           "curl -sS --max-time 5 -o /dev/null -w 'secret %{http_code}\\n' "
           "https://allowed.test/secret/key; "
           "getent hosts evil.test || echo 'evil dns refused'; "
           "getent hosts cdn.allowed.test || echo 'cname refused'; "
           "curl -sS --max-time 5 --cacert " +
           ca_ +
           " --resolve evil.test:443:198.51.100.20 https://evil.test/ || echo 'evil sni "
           "refused'; " +
           probe + " tcp-connect 198.51.100.11 9000"});
  EXPECT_NE(result.out.find("whoami 200"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("OK connected"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("secret 403"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("evil dns refused"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("evil sni refused"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("cname refused"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("REFUSED connect EPERM"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("only deny rules were given"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("denied by the deny rule 'evil.test' (--deny #1:1:1); to allow it, "
                            "remove that deny rule"),
            std::string::npos)
      << result.err;

  ASSERT_TRUE(result.report);
  const json& report = *result.report;
  EXPECT_EQ(schema_errors(report), "");
  EXPECT_EQ(report["policy"]["default"], "allow");
  EXPECT_TRUE(has_event(report, "dns", "evil.test", "denied by the deny rule 'evil.test'"));
  EXPECT_TRUE(has_event(report, "tls", "evil.test", "denied by the deny rule 'evil.test'"));
  // A name no rule denies, whose CNAME chain leads to a denied one.
  EXPECT_TRUE(has_event(report, "dns", "cdn.allowed.test",
                        "CNAME edge.cdn-provider.test: denied by the deny rule "
                        "'*.cdn-provider.test'"));
  EXPECT_TRUE(has_event(report, "http", "https://allowed.test/secret/key",
                        "denied by the deny rule 'https://allowed.test/secret/*'"));
  EXPECT_TRUE(
      has_event(report, "packet", "198.51.100.11", "denied by the deny rule '198.51.100.11:9000'"));
  EXPECT_TRUE(net_->dns_queries_for("evil.test").empty()) << "a denied name never goes upstream";
}

TEST_F(DenyRules, DenyWinsOverAllow) {
  const std::string probe = CGFW_ESCAPE_PROBE;
  auto result = run_sandbox(
      args({"-a", "*.allowed.test", "-a", "198.51.100.0/24:9000", "--deny", "y.allowed.test",
            "--deny", "198.51.100.11"}),
      {"sh", "-c",
       "getent hosts x.allowed.test >/dev/null && echo 'x resolves'; "
       "getent hosts y.allowed.test || echo 'y refused'; " +
           probe +
           " tcp-connect 198.51.100.10 9000; "
           "python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
           ".sendto(b'x', ('198.51.100.11', 9000))\" 2>/dev/null; " +
           probe + " tcp-connect 198.51.100.11 9000"});
  EXPECT_NE(result.out.find("x resolves"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("y refused"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("OK connected"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("REFUSED connect EPERM"), std::string::npos) << result.out;
  ASSERT_TRUE(result.report);
  EXPECT_EQ((*result.report)["policy"]["default"], "block");
  EXPECT_TRUE(has_event(*result.report, "dns", "y.allowed.test",
                        "denied by the deny rule 'y.allowed.test'"));
  EXPECT_TRUE(has_event(*result.report, "packet", "198.51.100.11",
                        "denied by the deny rule '198.51.100.11'"));
  bool udp_denied = false;  // no ports: UDP is denied too
  for (const auto& event : (*result.report)["events"])
    udp_denied |= event["protocol"] == "udp" && event["ip"] == "198.51.100.11" &&
                  event["decision"] == "blocked";
  EXPECT_TRUE(udp_denied) << (*result.report)["events"].dump(2);

  auto bad = run_sandbox({"--deny", "github.com:22"}, {"true"});
  EXPECT_EQ(bad.exit_status, 125);
  EXPECT_NE(bad.err.find("--deny #1:1:1: 'github.com:22': a deny rule for a name denies it on "
                         "every port"),
            std::string::npos)
      << bad.err;
}

}  // namespace
}  // namespace cgfw::testing
