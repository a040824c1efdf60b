// The one log sink: spdlog on stderr, lines prefixed "cgfw:". libbpf's messages are routed into it.
#pragma once

namespace cgfw::runner {

enum class Verbosity { quiet, normal, verbose };

// Configures the global logger and libbpf's print callback. Call once, first thing in main.
void setup_logging(Verbosity verbosity);

}  // namespace cgfw::runner
