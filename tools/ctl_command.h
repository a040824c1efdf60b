// `cgfw ctl COMMAND` and `cgfw stop`: talk to a running cgfw-sandbox (job or attach mode) through
// its control socket (/run/cgfw/run-*/control.sock, root only). See docs/attach.md "Changing a
// run while it goes on".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cgfw::tools {

// The request for `cgfw ctl ARGS` (without --socket/--json), or an error message.
struct CtlRequest {
  nlohmann::json request;
  std::string error;
};
CtlRequest parse_ctl_words(const std::vector<std::string>& words);

// The run's control socket: `explicit_path` when given, else the only one under `base`; an error
// names what was found when there is none or more than one.
struct SocketChoice {
  std::string path;
  std::string error;
};
SocketChoice find_control_socket(const std::optional<std::string>& explicit_path,
                                 const std::string& base = "/run/cgfw");

// Sends one request, returns the answer (or {"ok": false, "message": why it failed}).
nlohmann::json send_control_request(const std::string& socket_path, const nlohmann::json& request);

// `cgfw ctl [--socket PATH] [--json] COMMAND...`; `cgfw stop [--socket PATH]` is `ctl stop`.
// Exit status: 0 done, 1 refused by the run, 2 usage error or no run reachable.
int run_ctl(const std::vector<std::string>& args);

}  // namespace cgfw::tools
