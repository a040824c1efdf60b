// RFC 3986 character classes and percent-encoding, shared by the URL-rule parser (policy/) and
// the request checks (proxy/http/), so that both normalise paths with the same definitions.
#pragma once

#include <cstdio>
#include <string>

namespace cgfw::uri {

inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

inline bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// The value of a hex digit, or -1.
inline int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%2F": upper-case, the one spelling cgfw compares.
inline std::string percent_encode(unsigned char byte) {
  char text[4];
  std::snprintf(text, sizeof text, "%%%02X", byte);
  return text;
}

}  // namespace cgfw::uri
