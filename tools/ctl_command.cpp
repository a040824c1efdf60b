#include "tools/ctl_command.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace cgfw::tools {
namespace {

using nlohmann::json;

constexpr int kAnswerTimeoutMs = 10000;

const char* kUsage =
    "usage: cgfw ctl [--socket PATH] [--json] status\n"
    "       cgfw ctl [--socket PATH] allow add|remove RULE\n"
    "       cgfw ctl [--socket PATH] deny add|remove RULE\n"
    "       cgfw ctl [--socket PATH] mode audit|block\n"
    "       cgfw ctl [--socket PATH] report\n"
    "       cgfw stop [--socket PATH]\n";

std::string field(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return "";
  const json& value = object[key];
  return value.is_string() ? value.get<std::string>() : value.dump();
}

void print_status(const json& status) {
  std::cout << "cgfw run " << field(status, "pid") << " policing " << field(status, "target")
            << " since " << field(status, "started_at") << "\n";
  std::cout << "mode: " << field(status, "mode") << "; default: " << field(status, "default")
            << "\n";
  std::cout << "rules in force:\n";
  if (status.contains("rules") && status["rules"].is_array()) {
    for (const auto& rule : status["rules"])
      std::cout << "  " << field(rule, "effect") << " " << field(rule, "text") << "  ("
                << field(rule, "location") << ")\n";
  }
  if (status.contains("events")) {
    const json& events = status["events"];
    std::cout << "events: " << field(events, "allowed") << " allowed, " << field(events, "blocked")
              << " blocked, " << field(events, "would_block") << " would block\n";
  }
  if (status.contains("kernel")) {
    const json& kernel = status["kernel"];
    std::cout << "packets: " << field(kernel, "packets_allowed") << " allowed, "
              << field(kernel, "packets_blocked") << " blocked, "
              << field(kernel, "packets_audited") << " audited\n";
  }
  if (status.contains("top_destinations") && status["top_destinations"].is_array() &&
      !status["top_destinations"].empty()) {
    std::cout << "top destinations:\n";
    for (const auto& top : status["top_destinations"])
      std::cout << "  " << field(top, "count") << "  " << field(top, "destination") << "  "
                << field(top, "decision") << "\n";
  }
  std::cout << "changes made while running: " << field(status, "changes") << "\n";
}

}  // namespace

CtlRequest parse_ctl_words(const std::vector<std::string>& words) {
  CtlRequest out;
  if (words.empty()) {
    out.error = "what to do is missing";
    return out;
  }
  const std::string& verb = words[0];
  auto expect = [&](std::size_t count) {
    if (words.size() == count) return true;
    out.error = "'" + verb + "' takes " + std::to_string(count - 1) +
                (count == 2 ? " argument" : " arguments") + ", got " +
                std::to_string(words.size() - 1) +
                (verb == "allow" || verb == "deny" ? " (quote nothing: one rule per command)" : "");
    return false;
  };
  if (verb == "status" || verb == "report" || verb == "stop") {
    if (expect(1)) out.request = {{"command", verb}};
  } else if (verb == "allow" || verb == "deny") {
    if (words.size() >= 2 && words[1] != "add" && words[1] != "remove") {
      out.error = "'" + verb + "' is followed by 'add' or 'remove', not '" + words[1] + "'";
    } else if (expect(3)) {
      out.request = {{"command", verb + " " + words[1]}, {"argument", words[2]}};
    }
  } else if (verb == "mode") {
    if (expect(2)) {
      if (words[1] != "audit" && words[1] != "block")
        out.error = "the mode is 'audit' or 'block', not '" + words[1] + "'";
      else
        out.request = {{"command", "mode"}, {"argument", words[1]}};
    }
  } else {
    out.error = "unknown command '" + verb + "'";
  }
  return out;
}

SocketChoice find_control_socket(const std::optional<std::string>& explicit_path,
                                 const std::string& base) {
  SocketChoice choice;
  if (explicit_path) {
    choice.path = *explicit_path;
    return choice;
  }
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(base, error)) {
    auto socket = entry.path() / "control.sock";
    if (entry.path().filename().string().starts_with("run-") &&
        std::filesystem::is_socket(socket, error))
      found.push_back(socket.string());
  }
  if (found.size() == 1) {
    choice.path = found.front();
  } else if (found.empty()) {
    choice.error = "no running cgfw with a control socket under " + base +
                   " (is one running? give --socket PATH, from its --ready-file)";
  } else {
    choice.error =
        std::to_string(found.size()) + " cgfw runs are going on; say which with --socket:";
    for (const auto& path : found) choice.error += "\n  " + path;
  }
  return choice;
}

json send_control_request(const std::string& socket_path, const json& request) {
  auto failed = [&](const std::string& why) {
    return json{{"ok", false}, {"message", socket_path + ": " + why}, {"unreachable", true}};
  };
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) return failed("the path is too long");
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    int err = errno;
    ::close(fd);
    return failed(err == EACCES ? "permission denied (only root may control a run)"
                                : std::strerror(err));
  }
  std::string text = request.dump() + "\n";
  // A run that refuses the peer answers at once and closes, perhaps before the request is all
  // sent: a failed send still reads what the run said.
  int send_error = 0;
  for (std::size_t sent = 0; sent < text.size();) {
    ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      send_error = errno;
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[4096];
  for (;;) {
    pollfd waiting{fd, POLLIN, 0};
    int ready = ::poll(&waiting, 1, kAnswerTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      ::close(fd);
      return failed("no answer within 10 s");
    }
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.size() > (16u << 20)) break;
  }
  ::close(fd);
  if (answer.empty() && send_error != 0) return failed(std::strerror(send_error));
  auto parsed = json::parse(answer, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return failed(answer.empty() ? "the run closed the connection without an answer"
                                 : "the answer is not JSON");
  return parsed;
}

int run_ctl(const std::vector<std::string>& args) {
  std::optional<std::string> socket;
  bool as_json = false;
  std::vector<std::string> words;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--socket" && i + 1 < args.size()) {
      socket = args[++i];
    } else if (args[i].starts_with("--socket=")) {
      socket = args[i].substr(9);
    } else if (args[i] == "--json") {
      as_json = true;
    } else if (args[i] == "-h" || args[i] == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (args[i].starts_with("--") && words.empty()) {
      std::cerr << "cgfw ctl: unknown option '" << args[i] << "'\n" << kUsage;
      return 2;
    } else {
      words.push_back(args[i]);
    }
  }
  auto request = parse_ctl_words(words);
  if (!request.error.empty()) {
    std::cerr << "cgfw ctl: " << request.error << "\n" << kUsage;
    return 2;
  }
  auto choice = find_control_socket(socket);
  if (!choice.error.empty()) {
    std::cerr << "cgfw ctl: " << choice.error << "\n";
    return 2;
  }
  json answer = send_control_request(choice.path, request.request);
  const bool ok = answer.value("ok", false);
  if (as_json) {
    std::cout << answer.dump(2) << "\n";
  } else if (ok && request.request["command"] == "status") {
    print_status(answer);
  } else {
    (ok ? std::cout : std::cerr) << (ok ? "" : "cgfw ctl: ") << field(answer, "message") << "\n";
  }
  if (ok) return 0;
  return answer.contains("unreachable") ? 2 : 1;
}

}  // namespace cgfw::tools
