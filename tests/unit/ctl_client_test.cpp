// `cgfw ctl`'s client side against a socket that behaves like a run refusing its peer: it answers
// at once and closes without reading. The refusal must reach the user, not "Broken pipe".
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>

#include "tests/support/sandbox_process.h"
#include "tools/ctl_command.h"

namespace cgfw::tools {
namespace {

TEST(CtlClient, ARefusalSentBeforeTheRequestIsReadStillReachesTheUser) {
  cgfw::testing::TempDir dir;
  std::string path = dir.file("control.sock");
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  std::thread run([listener] {
    int peer = ::accept(listener, nullptr, nullptr);
    std::string refusal = R"({"ok": false, "message": "refused: policed"})"
                          "\n";
    ssize_t written = ::write(peer, refusal.data(), refusal.size());
    (void)written;
    ::close(peer);  // unread: the client's next send fails with EPIPE
  });
  // Larger than the socket's buffers, so the send is still going on when the peer closes.
  nlohmann::json request = {{"command", "status"}, {"argument", std::string(4 << 20, 'x')}};
  auto answer = send_control_request(path, request);
  run.join();
  ::close(listener);
  EXPECT_FALSE(answer.value("ok", true));
  EXPECT_EQ(answer.value("message", ""), "refused: policed") << answer.dump();
}

}  // namespace
}  // namespace cgfw::tools
