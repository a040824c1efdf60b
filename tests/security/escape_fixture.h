// What every adversarial test shares: the fake internet, the escape probe, and the two checks
// each attempt must pass — nothing it sent reached the fake internet, and the report names it.
#pragma once

#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {

// The probe's payload begins with this (tests/security/escape_probe.cpp).
inline constexpr const char* kProbePayload = "cgfw-escape-probe";

inline std::vector<std::string> probe(std::vector<std::string> args) {
  args.insert(args.begin(), CGFW_ESCAPE_PROBE);
  return args;
}

class Escape : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: the escape tests need root";
    net_ = FakeInternet::up();
  }

  // Nothing carrying the probe's payload reached any server of the fake internet, by any
  // protocol or address, but `allowed_ip` (a control the test allowed on purpose).
  void expect_nothing_reached(const std::string& allowed_ip = "") const {
    for (const auto& entry : net_->sink_log()) {
      if (!allowed_ip.empty() && entry.value("local_ip", "") == allowed_ip) continue;
      EXPECT_EQ(entry.dump().find(kProbePayload), std::string::npos)
          << "reached the fake internet: " << entry.dump();
    }
  }

  // The report's blocked events for ip (and port, unless 0).
  static std::vector<nlohmann::json> blocked(const nlohmann::json& report, const std::string& ip,
                                             int port = 0) {
    std::vector<nlohmann::json> found;
    for (const auto& event : report["events"])
      if (event["decision"] == "blocked" && event["ip"] == ip &&
          (port == 0 || event["port"] == port))
        found.push_back(event);
    return found;
  }

  std::unique_ptr<FakeInternet> net_;
};

}  // namespace cgfw::testing
