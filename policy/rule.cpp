#include "policy/rule.h"

#include "policy/ip_literal.h"

namespace cgfw::policy {

std::string SourceLocation::to_string() const {
  // Line 0 means "the source as a whole" (an unreadable file), where a position would mislead.
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string IpPrefix::to_string() const {
  const std::string text = format_address(family, address);
  if (text.empty()) return "";
  return text + "/" + std::to_string(prefix_length);
}

}  // namespace cgfw::policy
