// One request on the control socket, parsed defensively: the bytes come from another process.
// A JSON object {"command": "...", "argument": "..."} on one line, nothing else in it.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace cgfw::runner {

struct ControlRequest {
  std::string command;  // "status", "allow add", "allow remove", "deny add", "deny remove",
                        // "mode", "report", "stop", "container admit"
  // The rule or the mode; for "container admit", a JSON object {"pid": N, "id": "...", "name":
  // "...", "image": "..."} as a string (parsed by the run, see container_identity.h); "" for
  // the others.
  std::string argument;
};

// The request, or why it is not one (not JSON, not an object, an unknown command or key, a field
// of the wrong type, an argument missing or where none belongs).
Result<ControlRequest> parse_control_request(std::string_view line);

}  // namespace cgfw::runner
