#include "runner/announcer.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace cgfw::runner {
namespace {

reports::Event blocked_curl() {
  reports::Event event;
  event.decision = reports::Decision::blocked;
  event.protocol = "tcp";
  event.ip = "198.51.100.11";
  event.port = 80;
  event.reason = "no rule allows this address";
  event.suggested_rule = "198.51.100.11:80";
  event.process.pid = 4242;
  event.process.comm = "curl";
  event.process.exe = "/usr/bin/curl";
  return event;
}

TEST(Announcer, OneLineWithProcessDestinationLayerReasonAndRule) {
  EXPECT_EQ(format_block_line(blocked_curl()),
            "cgfw: blocked curl[4242] /usr/bin/curl -> 198.51.100.11:80/tcp at packet layer: no "
            "rule allows this address; to allow it, add the rule: 198.51.100.11:80");
}

TEST(Announcer, Ipv6IsBracketedAndGoneProcessesSaidSo) {
  auto event = blocked_curl();
  event.ip = "2001:db8::11";
  event.process.exe.clear();
  event.process.gone = true;
  event.suggested_rule = "[2001:db8::11]:80";
  auto line = format_block_line(event);
  EXPECT_NE(line.find("curl[4242] (exited before it could be read) -> [2001:db8::11]:80/tcp"),
            std::string::npos)
      << line;
}

reports::Event blocked_unix(const std::string& path = "/run/docker.sock") {
  auto event = blocked_curl();
  event.layer = reports::Layer::unix_socket;
  event.protocol = "unix";
  event.ip.clear();
  event.port = 0;
  event.path = path;
  event.reason = "unix socket of a daemon outside the sandbox (dockerd)";
  event.suggested_rule = "--allow-unix " + path;
  return event;
}

reports::Event blocked_tun() {
  auto event = blocked_curl();
  event.layer = reports::Layer::device;
  event.protocol = "tun";
  event.ip.clear();
  event.port = 0;
  event.path = "/dev/net/tun";
  event.reason = "TUN/TAP device: packets written to it bypass the sandbox's egress program";
  event.suggested_rule.reset();
  return event;
}

// A unix socket is allowed by a command-line option, not a rule line: the line says so.
TEST(Announcer, UnixSocketLineSuggestsTheOption) {
  EXPECT_EQ(format_block_line(blocked_unix()),
            "cgfw: blocked curl[4242] /usr/bin/curl -> /run/docker.sock (unix socket) at unix "
            "layer: unix socket of a daemon outside the sandbox (dockerd); to allow it, run with: "
            "--allow-unix /run/docker.sock");
  auto without = blocked_unix();
  without.suggested_rule.reset();
  EXPECT_NE(format_block_line(without).find("; to allow it, run with: --allow-unix "
                                            "/run/docker.sock"),
            std::string::npos)
      << format_block_line(without);
}

TEST(Announcer, DeviceLineHasNoSuggestion) {
  EXPECT_EQ(format_block_line(blocked_tun()),
            "cgfw: blocked curl[4242] /usr/bin/curl -> /dev/net/tun (tun device) at device "
            "layer: TUN/TAP device: packets written to it bypass the sandbox's egress program");
}

std::string announce(bool quiet, const std::vector<reports::Event>& events) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  Announcer announcer(quiet, out);
  for (const auto& e : events) announcer.on_event(e);
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

TEST(Announcer, EachDestinationOncePerExecutable) {
  auto event = blocked_curl();
  auto again = event;
  again.process.pid = 4243;
  auto other_port = event;
  other_port.port = 81;
  auto text = announce(false, {event, again, other_port});
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

// Unix and device events have no address: the path is what makes them distinct.
TEST(Announcer, EachSocketOrDeviceOncePerExecutable) {
  auto again = blocked_unix();
  again.process.pid = 4243;
  auto text =
      announce(false, {blocked_unix(), again, blocked_unix("/run/containerd/containerd.sock"),
                       blocked_tun(), blocked_tun()});
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_NE(text.find("-> /run/containerd/containerd.sock (unix socket)"), std::string::npos)
      << text;
}

TEST(Announcer, QuietWhenNothingIsBlockedOrWhenAskedTo) {
  auto allowed = blocked_curl();
  allowed.decision = reports::Decision::allowed;
  EXPECT_EQ(announce(false, {allowed}), "");
  auto audited = allowed;
  audited.would_block = true;
  EXPECT_EQ(announce(false, {audited}), "");
  EXPECT_EQ(announce(true, {blocked_curl()}), "");
}

}  // namespace
}  // namespace cgfw::runner
