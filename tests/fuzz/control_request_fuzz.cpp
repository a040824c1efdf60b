// libFuzzer target: a control socket line -> parse_control_request, and a rule argument through
// the rule parser as `cgfw ctl allow|deny add` gives it, and the bytes as a container admission.
// Whatever the bytes: a request or an error, never a crash, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policy/parser.h"
#include "runner/container_identity.h"
#include "runner/control_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto request = cgfw::runner::parse_control_request(line);
  // The "container admit" argument, from a runtime's hook.
  (void)cgfw::runner::parse_container_admission(line);
  if (request && !request->argument.empty()) {
    auto parsed = cgfw::policy::parse_rule(request->argument, "cgfw ctl #1");
    cgfw::policy::make_deny_rules(parsed);
    for (const auto& error : parsed.errors) (void)error.to_string();
  }
  return 0;
}
