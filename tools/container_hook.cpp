#include "tools/container_hook.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "tools/ctl_command.h"

namespace cgfw::tools {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxState = 1 << 20;

// The first of `keys` that the annotations hold as a non-empty string.
std::string first_annotation(const json& annotations, std::initializer_list<const char*> keys) {
  if (!annotations.is_object()) return {};
  for (const char* key : keys) {
    auto found = annotations.find(key);
    if (found != annotations.end() && found->is_string() && !found->get<std::string>().empty())
      return found->get<std::string>();
  }
  return {};
}

}  // namespace

HookAdmission admission_from_oci_state(std::string_view state, const std::string& config_json) {
  HookAdmission out;
  auto parsed = json::parse(state, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    out.error = "the runtime's state on stdin is not a JSON object (is this an OCI hook?)";
    return out;
  }
  auto pid = parsed.find("pid");
  auto id = parsed.find("id");
  if (pid == parsed.end() || !pid->is_number_integer() || pid->get<long long>() <= 0 ||
      id == parsed.end() || !id->is_string() || id->get<std::string>().empty()) {
    out.error =
        "the runtime's state has no \"pid\" or \"id\": run the hook as createRuntime or "
        "prestart, when the container's process exists";
    return out;
  }
  json annotations = parsed.value("annotations", json::object());
  if ((!annotations.is_object() || annotations.empty()) && !config_json.empty()) {
    auto config = json::parse(config_json, nullptr, false);
    if (config.is_object()) annotations = config.value("annotations", json::object());
  }
  out.argument = {{"pid", pid->get<long long>()}, {"id", id->get<std::string>()}};
  std::string name =
      first_annotation(annotations, {"cgfw.container.name", "io.kubernetes.cri.container-name",
                                     "nerdctl/name", "io.podman.annotations.name"});
  std::string image =
      first_annotation(annotations, {"cgfw.container.image", "org.opencontainers.image.ref.name",
                                     "io.kubernetes.cri.image-name", "nerdctl/image"});
  if (!name.empty()) out.argument["name"] = name;
  if (!image.empty()) out.argument["image"] = image;
  return out;
}

int run_container_hook(const std::vector<std::string>& args) {
  std::optional<std::string> socket;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--socket" && i + 1 < args.size()) {
      socket = args[++i];
    } else {
      std::fprintf(stderr, "usage: cgfw container-hook [--socket PATH]  (an OCI runtime hook)\n");
      return 2;
    }
  }
  std::string state;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0 && state.size() < kMaxState)
    state.append(buffer, n);
  std::string config;
  auto parsed = json::parse(state, nullptr, false);
  if (parsed.is_object() && parsed.contains("bundle") && parsed["bundle"].is_string()) {
    std::ifstream file(parsed["bundle"].get<std::string>() + "/config.json");
    config.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  auto admission = admission_from_oci_state(state, config);
  if (!admission.error.empty()) {
    std::fprintf(stderr, "cgfw container-hook: %s\n", admission.error.c_str());
    return 1;
  }
  auto choice = find_control_socket(socket);
  if (!choice.error.empty()) {
    std::fprintf(stderr, "cgfw container-hook: %s\n", choice.error.c_str());
    return 2;
  }
  json answer = send_control_request(
      choice.path, {{"command", "container admit"}, {"argument", admission.argument.dump()}});
  std::string message = answer.value("message", std::string());
  if (!answer.value("ok", false)) {
    std::fprintf(stderr, "cgfw container-hook: the run refused the container: %s\n",
                 message.c_str());
    return 1;
  }
  std::fprintf(stderr, "cgfw container-hook: %s\n", message.c_str());
  return 0;
}

}  // namespace cgfw::tools
