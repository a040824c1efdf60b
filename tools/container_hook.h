// `cgfw container-hook [--socket PATH]`: an OCI runtime hook (createRuntime or prestart). It reads
// the container's state (id, pid, bundle, annotations) on stdin, as the runtime gives it, and asks
// the run to admit the container ("container admit" on the control socket) before its first
// instruction runs: its network namespace then reaches cgfw's proxies, and the reports name it.
// Exit 0 once admitted; non-zero (the runtime then refuses to start the container) otherwise.
// See docs/containers.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cgfw::tools {

// The "container admit" argument for an OCI state (and the bundle's config.json annotations,
// when the state has none); an error message in `error` instead.
struct HookAdmission {
  nlohmann::json argument;
  std::string error;
};
HookAdmission admission_from_oci_state(std::string_view state, const std::string& config_json);

int run_container_hook(const std::vector<std::string>& args);

}  // namespace cgfw::tools
