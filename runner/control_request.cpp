#include "runner/control_request.h"

#include <array>

#include <nlohmann/json.hpp>

namespace cgfw::runner {
namespace {

constexpr std::array kWithArgument = {"allow add",   "allow remove", "deny add",
                                      "deny remove", "mode",         "container admit"};
constexpr std::array kWithout = {"status", "report", "stop"};

template <std::size_t N>
bool listed(const std::array<const char*, N>& names, const std::string& name) {
  for (const char* known : names)
    if (name == known) return true;
  return false;
}

}  // namespace

Result<ControlRequest> parse_control_request(std::string_view line) {
  auto parsed = nlohmann::json::parse(line, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return make_error("not a control request: one JSON object per line, with a \"command\"");
  ControlRequest request;
  for (const auto& [key, value] : parsed.items()) {
    if (key != "command" && key != "argument")
      return make_error("unknown field \"" + key.substr(0, 64) + "\" in the request");
    if (!value.is_string()) return make_error("\"" + key + "\" must be a string");
  }
  if (!parsed.contains("command")) return make_error("the request has no \"command\"");
  request.command = parsed["command"].get<std::string>();
  if (parsed.contains("argument")) request.argument = parsed["argument"].get<std::string>();
  const bool takes_argument = listed(kWithArgument, request.command);
  if (!takes_argument && !listed(kWithout, request.command))
    return make_error("unknown command '" + request.command.substr(0, 64) +
                      "' (status, allow add|remove, deny add|remove, mode, report, stop)");
  if (takes_argument && request.argument.empty())
    return make_error("'" + request.command + "' needs an argument");
  if (!takes_argument && !request.argument.empty())
    return make_error("'" + request.command + "' takes no argument");
  return request;
}

}  // namespace cgfw::runner
