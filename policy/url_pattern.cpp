#include "policy/url_pattern.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/uri_chars.h"
#include "policy/domain_name.h"
#include "policy/ip_literal.h"
#include "policy/port_spec.h"

namespace cgfw::policy {
namespace {

constexpr std::string_view kSchemeSeparator = "://";

using uri::hex_value;
using uri::is_alpha;
using uri::is_digit;
using uri::is_unreserved;
using uri::percent_encode;

// RFC 3986 pchar and '/', less '%' (checked on its own) and '*' (only the trailing one is allowed).
bool is_path_char(char c) {
  static constexpr std::string_view kOthers = "!$&'()+,;=:@/";
  return is_unreserved(c) || kOthers.find(c) != std::string_view::npos;
}

// One spelling per path, so that the proxy compares like with like: %XX of an unreserved
// character is decoded ("%7E" is "~"), every other escape upper-cased, raw UTF-8 escaped.
Result<std::string> normalize_path(std::string_view path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c == '%') {
      const int high = i + 1 < path.size() ? hex_value(path[i + 1]) : -1;
      const int low = i + 2 < path.size() ? hex_value(path[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return make_error("'%' in a path must be followed by two hex digits");
      }
      const auto decoded = static_cast<char>(high * 16 + low);
      out += is_unreserved(decoded) ? std::string(1, decoded)
                                    : percent_encode(static_cast<unsigned char>(decoded));
      i += 2;
    } else if (byte >= 0x80) {
      out += percent_encode(byte);
    } else if (c == '*') {
      return make_error("'*' is only allowed at the very end of a URL path");
    } else if (!is_path_char(c)) {
      return make_error(std::string("character '") + c +
                        "' is not allowed in a URL path (percent-encode it)");
    } else {
      out += c;
    }
  }
  // Checked after decoding, so "%2E%2E" cannot smuggle a ".." past the rule.
  std::size_t start = 0;
  while (start <= out.size()) {
    std::size_t end = out.find('/', start);
    if (end == std::string::npos) end = out.size();
    const std::string_view segment = std::string_view(out).substr(start, end - start);
    if (segment == "." || segment == "..") {
      return make_error("'.' and '..' path segments are not allowed; write the path they lead to");
    }
    start = end + 1;
  }
  return out;
}

struct HostPort {
  std::string host;
  std::string_view port_text;
  bool has_port = false;
};

Result<HostPort> split_authority(std::string_view authority) {
  HostPort out;
  std::string_view host_text = authority;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return make_error("missing ']' after the IPv6 address");
    const std::string_view inside = authority.substr(1, close - 1);
    const std::optional<IpPrefix> address = parse_ipv6(inside);
    if (!address) return make_error("'" + std::string(inside) + "' is not a valid IPv6 address");
    const IpPrefix folded = fold_ipv4_mapped(*address);
    const std::string text = format_address(folded.family, folded.address);
    out.host = folded.family == AF_INET6 ? "[" + text + "]" : text;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return make_error("unexpected '" + std::string(after) + "' after ']'");
    }
    if (!after.empty()) {
      out.has_port = true;
      out.port_text = after.substr(1);
    }
    return out;
  }
  if (std::count(authority.begin(), authority.end(), ':') >= 2) {
    return make_error("an IPv6 address in a URL needs brackets, as in 'https://[2001:db8::1]/'");
  }
  if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host_text = authority.substr(0, colon);
    out.has_port = true;
    out.port_text = authority.substr(colon + 1);
  }
  if (host_text.empty()) return make_error("missing host name");
  if (std::optional<IpPrefix> v4 = parse_ipv4(host_text)) {
    out.host = format_address(AF_INET, v4->address);
    return out;
  }
  Result<HostPattern> pattern = parse_host_pattern(host_text);
  if (!pattern) return pattern.error();
  out.host = (pattern->wildcard ? "*." : "") + pattern->name;
  return out;
}

}  // namespace

bool looks_like_url(std::string_view token) {
  return token.find(kSchemeSeparator) != std::string_view::npos;
}

Result<UrlPattern> parse_url_pattern(std::string_view token) {
  const std::size_t separator = token.find(kSchemeSeparator);
  std::string scheme(token.substr(0, separator));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  if (scheme != "https" && scheme != "http") {
    return make_error("unsupported scheme '" + scheme +
                      "'; a URL rule starts with 'https://' or 'http://'");
  }
  const std::string_view rest = token.substr(separator + kSchemeSeparator.size());
  if (rest.find('?') != std::string_view::npos) {
    return make_error("a query string ('?') is not allowed; a URL rule matches a path");
  }
  const std::size_t path_start = std::min(rest.find('/'), rest.size());
  const std::string_view authority = rest.substr(0, path_start);
  std::string_view path = rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) {
    return make_error("user information ('user@') is not allowed in a URL rule");
  }
  if (authority.empty()) return make_error("missing host after '" + scheme + "://'");

  UrlPattern url;
  url.scheme = scheme;
  Result<HostPort> host_port = split_authority(authority);
  if (!host_port) return host_port.error();
  url.host = std::move(host_port->host);
  url.port = scheme == "https" ? 443 : 80;
  if (host_port->has_port) {
    const std::string_view port_text = host_port->port_text;
    if (port_text.empty()) return make_error("':' must be followed by a port");
    if (port_text.find_first_of(",-") != std::string_view::npos) {
      return make_error("a URL rule takes one port, not a list or a range");
    }
    Result<std::uint16_t> port = parse_port_number(port_text);
    if (!port) return port.error();
    url.port = *port;
  }

  // No path at all means the whole site, the same as "/*".
  if (path.empty()) path = "/*";
  if (path.back() == '*') {
    url.path_is_prefix = true;
    path.remove_suffix(1);
  }
  Result<std::string> normalized = normalize_path(path);
  if (!normalized) return normalized.error();
  url.path = std::move(normalized).value();
  return url;
}

}  // namespace cgfw::policy
