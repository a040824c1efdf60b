// Privileged tests need root; on this project's machines and in CI they have it. Where they do
// not, they say so loudly instead of passing silently.
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#define CGFW_REQUIRE_ROOT()                                                                \
  do {                                                                                     \
    if (::geteuid() != 0)                                                                  \
      GTEST_SKIP() << "SKIPPED LOUDLY: this test loads eBPF programs and needs root; run " \
                      "the suite with sudo (CI does)";                                     \
  } while (0)
