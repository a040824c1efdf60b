// The control socket's request parser: what `cgfw ctl` sends is accepted; anything else gets a
// reason, never an exception.
#include "runner/control_request.h"

#include <gtest/gtest.h>

namespace cgfw::runner {
namespace {

std::string refusal(std::string_view line) {
  auto parsed = parse_control_request(line);
  return parsed ? "" : parsed.error().message;
}

TEST(ControlRequest, AcceptsWhatCgfwCtlSends) {
  auto add = parse_control_request(R"({"command":"allow add","argument":"example.com:443"})");
  ASSERT_TRUE(add);
  EXPECT_EQ(add->command, "allow add");
  EXPECT_EQ(add->argument, "example.com:443");
  auto status = parse_control_request(R"({"command":"status"})");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->argument, "");
}

TEST(ControlRequest, RefusesEverythingElseWithAReason) {
  EXPECT_NE(refusal("allow add x").find("not a control request"), std::string::npos);
  EXPECT_NE(refusal("[1]").find("not a control request"), std::string::npos);
  EXPECT_NE(refusal("{}").find("has no \"command\""), std::string::npos);
  EXPECT_NE(refusal(R"({"command":7})").find("must be a string"), std::string::npos);
  EXPECT_NE(refusal(R"({"command":"status","user":"x"})").find("unknown field \"user\""),
            std::string::npos);
  EXPECT_NE(refusal(R"({"command":"rm -rf"})").find("unknown command 'rm -rf'"), std::string::npos);
  EXPECT_NE(refusal(R"({"command":"deny add"})").find("needs an argument"), std::string::npos);
  EXPECT_NE(refusal(R"({"command":"stop","argument":"now"})").find("takes no argument"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"command":"mode","argument":["audit"]})").find("must be a string"),
            std::string::npos);
}

}  // namespace
}  // namespace cgfw::runner
