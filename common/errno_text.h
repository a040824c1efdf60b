// errno as words, for error messages. libbpf returns negative errno values, the C library sets
// positive ones: either is accepted.
#pragma once

#include <cstring>
#include <string>

namespace cgfw {

inline std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

}  // namespace cgfw
