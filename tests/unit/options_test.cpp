#include "runner/options.h"

#include <gtest/gtest.h>

#include <variant>

namespace cgfw::runner {
namespace {

std::string last_err;

std::variant<Options, int> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "cgfw-sandbox");
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  auto result = parse_options(static_cast<int>(args.size()), args.data());
  last_err = ::testing::internal::GetCapturedStderr();
  ::testing::internal::GetCapturedStdout();
  return result;
}

TEST(Options, EverythingBeforeTheSeparatorAndTheCommandAfter) {
  auto parsed = parse({"-a", "example.com", "--allow", "198.51.100.7", "-f", "egress.txt",
                       "--report-json", "r.json", "--user", "builder", "--no-loopback", "-v", "--",
                       "make", "-j2", "--allow", "x"});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed)) << last_err;
  const auto& options = std::get<Options>(parsed);
  EXPECT_EQ(options.allow_rules, (std::vector<std::string>{"example.com", "198.51.100.7"}));
  EXPECT_EQ(options.allow_files, (std::vector<std::string>{"egress.txt"}));
  EXPECT_EQ(options.report_json, "r.json");
  EXPECT_EQ(options.user, "builder");
  EXPECT_TRUE(options.no_loopback);
  EXPECT_FALSE(options.audit);
  EXPECT_EQ(options.verbosity, Verbosity::verbose);
  EXPECT_EQ(options.command, (std::vector<std::string>{"make", "-j2", "--allow", "x"}));
}

TEST(Options, WithoutSeparatorTheFirstWordStartsTheCommand) {
  auto parsed = parse({"--audit", "-q", "curl", "-v", "https://example.com/"});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed)) << last_err;
  const auto& options = std::get<Options>(parsed);
  EXPECT_TRUE(options.audit);
  EXPECT_EQ(options.verbosity, Verbosity::quiet);
  EXPECT_EQ(options.command, (std::vector<std::string>{"curl", "-v", "https://example.com/"}));
}

TEST(Options, UsageErrorsExit125WithAMessage) {
  EXPECT_EQ(std::get<int>(parse({"--bogus", "--", "true"})), kExitCgfwFailed);
  EXPECT_NE(last_err.find("--bogus"), std::string::npos) << last_err;
  EXPECT_EQ(std::get<int>(parse({"-a", "x.com"})), kExitCgfwFailed);
  EXPECT_NE(last_err.find("no command given"), std::string::npos) << last_err;
  EXPECT_EQ(std::get<int>(parse({"-a", "x.com", "--"})), kExitCgfwFailed);
  EXPECT_EQ(std::get<int>(parse({"-v", "-q", "--", "true"})), kExitCgfwFailed);
  EXPECT_EQ(std::get<int>(parse({"--report-json", "--", "true"})), kExitCgfwFailed);
}

TEST(Options, ContainerCgroupsAreGivenAsProcShowsThem) {
  auto slice = parse({"--containers-slice", "/system.slice", "--", "true"});
  ASSERT_TRUE(std::holds_alternative<Options>(slice));
  EXPECT_EQ(std::get<Options>(slice).containers_slice, "/system.slice");
  for (const char* bad : {"system.slice", "/", "/a/../b", "/a//b", "/a/.."}) {
    EXPECT_EQ(std::get<int>(parse({"--containers-slice", bad, "--", "true"})), kExitCgfwFailed)
        << bad;
    EXPECT_EQ(std::get<int>(parse({"--containers-cgroup", bad, "--", "true"})), kExitCgfwFailed)
        << bad;
  }
}

TEST(Options, HelpAndVersionExitZero) {
  EXPECT_EQ(std::get<int>(parse({"--help"})), 0);
  EXPECT_EQ(std::get<int>(parse({"--version"})), 0);
}

}  // namespace
}  // namespace cgfw::runner
