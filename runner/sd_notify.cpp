#include "runner/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runner/unique_fd.h"

namespace cgfw::runner {

Status notify_systemd(std::string_view state) {
  const char* variable = std::getenv("NOTIFY_SOCKET");
  if (!variable || !*variable) return Ok{};
  std::string name = variable;
  auto fail = [&](const std::string& why) {
    return make_error("cannot notify systemd through NOTIFY_SOCKET=" + name + ": " + why);
  };
  // systemd gives an absolute path, or '@' for the abstract namespace (a leading NUL byte).
  if (name[0] != '/' && name[0] != '@')
    return fail("not an absolute path nor an abstract socket ('@...')");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (name.size() > sizeof(address.sun_path) - (name[0] == '/' ? 1 : 0))
    return fail("the name is too long for a unix socket address");
  std::memcpy(address.sun_path, name.data(), name.size());
  if (name[0] == '@') address.sun_path[0] = '\0';
  // An abstract name is exactly its bytes (no terminating NUL); a path may have one.
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                       (name[0] == '/' ? 1 : 0));

  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(std::string("socket: ") + std::strerror(errno));
  ssize_t sent;
  do {
    sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address), length);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return fail(std::strerror(errno));
  if (static_cast<std::size_t>(sent) != state.size()) return fail("the message was cut short");
  return Ok{};
}

}  // namespace cgfw::runner
