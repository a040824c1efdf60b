// notify_systemd() against real AF_UNIX datagram sockets, bound where systemd would bind its
// own: a path, and a name in the abstract namespace.
#include "runner/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "runner/unique_fd.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::runner {
namespace {

// Sets NOTIFY_SOCKET (or unsets it, for std::nullopt) for one test; puts the old value back.
class NotifySocketVariable {
 public:
  explicit NotifySocketVariable(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("NOTIFY_SOCKET")) old_ = old;
    if (value)
      ::setenv("NOTIFY_SOCKET", value->c_str(), 1);
    else
      ::unsetenv("NOTIFY_SOCKET");
  }
  ~NotifySocketVariable() {
    if (old_)
      ::setenv("NOTIFY_SOCKET", old_->c_str(), 1);
    else
      ::unsetenv("NOTIFY_SOCKET");
  }

 private:
  std::optional<std::string> old_;
};

// A bound datagram socket: `name` is a path, or "@..." for the abstract namespace.
UniqueFd bind_datagram_socket(const std::string& name) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid()) << std::strerror(errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, name.data(), name.size());
  if (name[0] == '@') address.sun_path[0] = '\0';
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length), 0)
      << name << ": " << std::strerror(errno);
  return fd;
}

// The datagram waiting on `fd` (sendto on a unix datagram socket queues it before returning).
std::string received(int fd) {
  char buffer[4096];
  ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n < 0) return "(nothing received: " + std::string(std::strerror(errno)) + ")";
  return std::string(buffer, static_cast<std::size_t>(n));
}

constexpr const char* kReady = "READY=1\nSTATUS=policing /sys/fs/cgroup/system.slice/x.service";

TEST(SdNotify, SendsOneDatagramToAPathSocket) {
  testing::TempDir dir;
  std::string path = dir.file("notify");
  UniqueFd receiver = bind_datagram_socket(path);
  NotifySocketVariable variable(path);
  auto sent = notify_systemd(kReady);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(received(receiver.get()), kReady);
  ASSERT_TRUE(notify_systemd("STOPPING=1").ok());
  EXPECT_EQ(received(receiver.get()), "STOPPING=1") << "one datagram per call";
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  std::string name = "@cgfw-sd-notify-test-" + std::to_string(::getpid());
  UniqueFd receiver = bind_datagram_socket(name);
  NotifySocketVariable variable(name);
  auto sent = notify_systemd(kReady);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(received(receiver.get()), kReady);
}

TEST(SdNotify, NothingToDoWithoutNotifySocket) {
  {
    NotifySocketVariable unset(std::nullopt);
    EXPECT_TRUE(notify_systemd(kReady).ok());
  }
  NotifySocketVariable empty(std::string{});
  EXPECT_TRUE(notify_systemd(kReady).ok());
}

TEST(SdNotify, AMissingOrBadSocketIsAClearError) {
  testing::TempDir dir;
  std::string missing = dir.file("no-such-socket");
  {
    NotifySocketVariable variable(missing);
    auto sent = notify_systemd(kReady);
    ASSERT_FALSE(sent.ok());
    EXPECT_NE(sent.error().message.find("cannot notify systemd through NOTIFY_SOCKET=" + missing),
              std::string::npos)
        << sent.error().message;
    EXPECT_NE(sent.error().message.find(std::strerror(ENOENT)), std::string::npos)
        << sent.error().message;
  }
  {
    NotifySocketVariable variable(std::string("relative/notify"));
    auto sent = notify_systemd(kReady);
    ASSERT_FALSE(sent.ok());
    EXPECT_NE(sent.error().message.find("not an absolute path"), std::string::npos)
        << sent.error().message;
  }
  {
    NotifySocketVariable variable("/" + std::string(200, 'x'));
    auto sent = notify_systemd(kReady);
    ASSERT_FALSE(sent.ok());
    EXPECT_NE(sent.error().message.find("too long"), std::string::npos) << sent.error().message;
  }
}

}  // namespace
}  // namespace cgfw::runner
