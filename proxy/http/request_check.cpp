#include "proxy/http/request_check.h"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

#include "common/uri_chars.h"
#include "policy/ip_literal.h"
#include "policy/matcher.h"
#include "proxy/http/http_syntax.h"

namespace cgfw::http {
namespace {

using uri::hex_value;
using uri::is_alpha;
using uri::is_digit;
using uri::is_unreserved;
using uri::percent_encode;

// RFC 3986 pchar and '/', less '%' (checked on its own) and ';' (refused, see normalize_path).
bool is_path_char(char c) {
  static constexpr std::string_view kOthers = "!$&'()*+,=:@/";
  return is_unreserved(c) || kOthers.find(c) != std::string_view::npos;
}

std::string hex_byte(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", byte);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The request path twice: as sent (escapes normalised, nothing resolved) and normalized.
struct PathForms {
  std::string as_sent;
  std::string normalized;
};

std::optional<PathForms> path_forms(std::string_view path, std::string* why) {
  const auto refuse = [why](std::string text) -> std::optional<PathForms> {
    if (why != nullptr) *why = std::move(text);
    return std::nullopt;
  };
  if (path.empty() || path.front() != '/') return refuse("the path does not start with '/'");

  std::vector<std::string> segments;
  std::size_t pos = 1;
  for (;;) {
    const std::size_t slash = std::min(path.find('/', pos), path.size());
    const std::string_view raw = path.substr(pos, slash - pos);
    std::string segment;
    bool encoded_dot = false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const char c = raw[i];
      const auto byte = static_cast<unsigned char>(c);
      if (byte >= 0x80) return refuse("non-ASCII byte " + hex_byte(byte) + " in the path");
      if (c == ';') {
        return refuse(
            "';' path parameters are refused: servers such as Tomcat drop them, so '/..;/' "
            "would climb out of an allowed path");
      }
      if (c != '%') {
        if (!is_path_char(c)) {
          const std::string shown =
              byte < 0x21 || byte == 0x7f ? hex_byte(byte) : "'" + std::string(1, c) + "'";
          return refuse("character " + shown + " is not allowed in a path");
        }
        segment += c;
        continue;
      }
      const int high = i + 1 < raw.size() ? hex_value(raw[i + 1]) : -1;
      const int low = i + 2 < raw.size() ? hex_value(raw[i + 2]) : -1;
      if (high < 0 || low < 0) return refuse("'%' in the path is not followed by two hex digits");
      const auto decoded = static_cast<unsigned char>(high * 16 + low);
      i += 2;
      switch (decoded) {
        case '/':
          return refuse(
              "an encoded slash (%2F): servers disagree whether it separates path segments");
        case '\\':
          return refuse("an encoded backslash (%5C): some servers read it as '/'");
        case 0:
          return refuse("an encoded NUL (%00) in the path");
        case ';':
          return refuse("an encoded ';' (%3B): some servers read it as a path parameter");
        case '%':
          if (i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 && hex_value(raw[i + 2]) >= 0) {
            return refuse(
                "double encoding (%25 before two hex digits): a server that decodes "
                "twice would see another path");
          }
          break;
        default:
          break;
      }
      if (is_unreserved(static_cast<char>(decoded))) {
        segment += static_cast<char>(decoded);
        encoded_dot = encoded_dot || decoded == '.';
      } else {
        segment += percent_encode(decoded);
      }
    }
    if (encoded_dot && (segment == "." || segment == "..")) {
      return refuse("a dot segment written with %2E: servers disagree whether it is '" + segment +
                    "'");
    }
    segments.push_back(std::move(segment));
    if (slash == path.size()) break;
    pos = slash + 1;
  }

  PathForms forms;
  for (const std::string& segment : segments) forms.as_sent += "/" + segment;
  std::vector<const std::string*> kept;
  bool trailing_slash = false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& segment = segments[i];
    const bool last = i + 1 == segments.size();
    if (segment.empty() || segment == ".") {
      trailing_slash = trailing_slash || last;
      continue;
    }
    if (segment == "..") {
      if (kept.empty()) return refuse("'..' climbs above the root of the path");
      kept.pop_back();
      trailing_slash = trailing_slash || last;
      continue;
    }
    kept.push_back(&segment);
  }
  for (const std::string* segment : kept) forms.normalized += "/" + *segment;
  if (forms.normalized.empty() || trailing_slash) forms.normalized += "/";
  return forms;
}

bool url_host_matches(std::string_view pattern, std::string_view host) {
  if (pattern.starts_with("*.")) {
    const std::string_view parent = pattern.substr(2);
    return host.size() > parent.size() + 1 && host.ends_with(parent) &&
           host[host.size() - parent.size() - 1] == '.';
  }
  return pattern == host;
}

bool url_rule_applies(const policy::Rule& rule, std::string_view host, std::string_view scheme,
                      std::uint16_t port, policy::Effect effect = policy::Effect::allow) {
  return policy::in_force(rule, effect) && rule.kind == policy::RuleKind::url && rule.url &&
         rule.url->scheme == scheme && rule.url->port == port &&
         url_host_matches(rule.url->host, host);
}

struct Authority {
  std::string host;  // lower-case name, dotted IPv4, or bracketed IPv6
  bool is_ip = false;
  int family = 0;
  std::array<std::uint8_t, 16> address{};
  std::optional<std::uint16_t> port;
};

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (const char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

void set_ip(Authority& authority, const policy::IpPrefix& parsed) {
  const policy::IpPrefix folded = policy::fold_ipv4_mapped(parsed);
  authority.is_ip = true;
  authority.family = folded.family;
  authority.address = folded.address;
  const std::string text = policy::format_address(folded.family, folded.address);
  authority.host = folded.family == AF_INET6 ? "[" + text + "]" : text;
}

// A Host header value (or an SNI name): "name", "name:port", "198.51.100.7[:port]",
// "[2001:db8::1][:port]". One trailing dot of a name is dropped.
std::optional<Authority> parse_authority(std::string_view text, std::string& why) {
  Authority authority;
  if (text.empty()) {
    why = "an empty Host header";
    return std::nullopt;
  }
  if (text.find('@') != std::string_view::npos) {
    why = "user information ('@') in the Host header";
    return std::nullopt;
  }
  std::string_view host_text = text;
  std::optional<std::string_view> port_text;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    const auto address = close == std::string_view::npos
                             ? std::nullopt
                             : policy::parse_ipv6(text.substr(1, close - 1));
    if (!address) {
      why = "'" + printable(text) + "' is not a valid bracketed IPv6 address";
      return std::nullopt;
    }
    set_ip(authority, *address);
    const std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        why = "unexpected text after ']' in the Host header";
        return std::nullopt;
      }
      port_text = after.substr(1);
    }
  } else {
    if (std::count(text.begin(), text.end(), ':') > 1) {
      why = "an IPv6 address in the Host header needs brackets";
      return std::nullopt;
    }
    if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
      host_text = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    }
    if (const auto v4 = policy::parse_ipv4(host_text)) {
      set_ip(authority, *v4);
    } else {
      authority.host = policy::normalize_domain(host_text);
      if (authority.host.empty()) {
        why = "'" + printable(host_text, 255) + "' is not a valid host name";
        return std::nullopt;
      }
    }
  }
  if (port_text) {
    authority.port = parse_port(*port_text);
    if (!authority.port) {
      why = "'" + printable(*port_text, 16) + "' is not a port (1-65535)";
      return std::nullopt;
    }
  }
  return authority;
}

std::vector<std::string_view> header_values(const RequestHead& head, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [field, value] : head.headers) {
    if (iequals(field, name)) values.push_back(trim_blanks(value));
  }
  return values;
}

// Target, version, method and framing checks that do not depend on the policy; "" when fine.
std::string check_form(const RequestHead& head) {
  if (head.major == 0 && head.minor == 9) return "HTTP/0.9 is not supported";
  if (!(head.major == 1 && (head.minor == 0 || head.minor == 1))) {
    return "HTTP/" + std::to_string(head.major) + "." + std::to_string(head.minor) +
           " is not supported; only HTTP/1.0 and HTTP/1.1";
  }
  if (head.method == "CONNECT") {
    return "CONNECT is refused: the proxy is not a forward proxy, and a tunnel could not be "
           "checked";
  }
  if (head.upgrade || !header_values(head, "upgrade").empty()) {
    return "protocol upgrades (Upgrade: websocket, h2c) are refused for now: what follows the "
           "upgrade could not be checked";
  }
  const std::string_view target = head.target;
  if (target.empty()) return "an empty request target";
  for (const char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return "the request target holds a control character, space or non-ASCII byte (" +
             hex_byte(byte) + ")";
    }
    if (c == '#') return "a fragment ('#') in the request target; clients never send one";
    if (c == '\\') return "a backslash in the request target; some servers read it as '/'";
  }
  if (target == "*") {
    if (head.method != "OPTIONS") return "the asterisk form ('*') is only for OPTIONS";
  } else if (target.front() != '/') {
    if (target.find("://") != std::string_view::npos) {
      return "an absolute-form target ('GET http://host/...') is refused: the proxy is not a "
             "forward proxy; send the path only";
    }
    return "an authority-form target ('host:port') is refused: it is only for CONNECT";
  }

  const auto transfer_encodings = header_values(head, "transfer-encoding");
  const auto content_lengths = header_values(head, "content-length");
  if ((!transfer_encodings.empty() || head.chunked) &&
      (!content_lengths.empty() || head.content_length)) {
    return "both Transfer-Encoding and Content-Length (request smuggling)";
  }
  if (transfer_encodings.size() > 1) return "more than one Transfer-Encoding header";
  if (!transfer_encodings.empty()) {
    if (lower(transfer_encodings.front()) != "chunked") {
      return "Transfer-Encoding '" + printable(transfer_encodings.front()) +
             "': only exactly 'chunked' is accepted";
    }
    if (head.minor == 0) return "Transfer-Encoding in an HTTP/1.0 request";
  }
  if (content_lengths.size() > 1) return "more than one Content-Length header";
  if (!content_lengths.empty()) {
    const std::string_view length = content_lengths.front();
    if (length.empty() || length.size() > 19 ||
        !std::all_of(length.begin(), length.end(), is_digit)) {
      return "Content-Length '" + printable(length, 32) + "' is not a number";
    }
  }
  return "";
}

RequestDecision refused(RequestDecision decision, std::string reason) {
  decision.allowed = false;
  decision.reason = std::move(reason);
  return decision;
}

}  // namespace

std::optional<std::string> normalize_path(std::string_view path, std::string* why) {
  auto forms = path_forms(path, why);
  if (!forms) return std::nullopt;
  return std::move(forms->normalized);
}

bool path_matches(const policy::UrlPattern& pattern, std::string_view path) {
  const std::string_view rule = pattern.path;
  if (path == rule) return true;
  if (!pattern.path_is_prefix || !path.starts_with(rule)) return false;
  return rule.ends_with('/') || path[rule.size()] == '/';
}

bool deny_path_matches(const policy::UrlPattern& pattern, std::string_view path) {
  // Wider than path_matches, as a deny rule must be: case folded (GitHub, and many servers, take
  // /Org/Secret for /org/secret), the prefix's own directory ("/org/secret/*" covers
  // "/org/secret"), and its git spelling ("/org/secret.git/...", as `git clone` asks).
  auto lower = [](std::string_view text) {
    std::string out(text);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
  };
  const std::string rule = lower(pattern.path);
  const std::string asked = lower(path);
  if (asked == rule) return true;
  if (!pattern.path_is_prefix) return false;
  std::string base = rule;
  if (base.size() > 1 && base.back() == '/') base.pop_back();
  if (base == "/") return true;
  for (const std::string& stem : {base, base + ".git"}) {
    if (asked == stem) return true;
    if (asked.starts_with(stem) && asked[stem.size()] == '/') return true;
  }
  // "/org*" (no slash): any continuation, as for allow rules.
  return !rule.ends_with('/') && asked.starts_with(rule);
}

bool host_has_url_rules(const policy::Policy& policy, std::string_view host,
                        std::string_view scheme, std::uint16_t port) {
  return std::any_of(policy.rules.begin(), policy.rules.end(), [&](const policy::Rule& rule) {
    return url_rule_applies(rule, host, scheme, port);
  });
}

bool host_has_deny_url_rules(const policy::Policy& policy, std::string_view host,
                             std::string_view scheme, std::uint16_t port) {
  return std::any_of(policy.rules.begin(), policy.rules.end(), [&](const policy::Rule& rule) {
    return url_rule_applies(rule, host, scheme, port, policy::Effect::deny);
  });
}

RequestDecision check_request(const policy::Policy& policy, const RequestHead& head,
                              std::string_view scheme, std::string_view tls_name,
                              std::uint16_t port) {
  RequestDecision decision;
  if (scheme != "http" && scheme != "https") {
    return refused(decision, "unknown scheme '" + printable(scheme, 16) + "'");
  }
  if (std::string why = check_form(head); !why.empty()) return refused(decision, why);

  // The host: from Host, which must agree with the connection (port) and, for HTTPS, with the
  // name the TLS connection was made for.
  std::string why;
  const auto hosts = header_values(head, "host");
  if (hosts.size() > 1) return refused(decision, "more than one Host header");
  std::optional<Authority> authority;
  std::optional<Authority> tls_authority;
  if (!tls_name.empty()) {
    tls_authority = parse_authority(tls_name, why);
    if (!tls_authority) return refused(decision, "the TLS server name is not valid: " + why);
  }
  if (hosts.empty()) {
    if (head.minor != 0) return refused(decision, "an HTTP/1.1 request without a Host header");
    if (scheme != "https" || !tls_authority) {
      return refused(decision, "an HTTP/1.0 request without a Host header names no site");
    }
    authority = tls_authority;
  } else {
    authority = parse_authority(hosts.front(), why);
    if (!authority) return refused(decision, why);
  }
  decision.host = authority->host;
  if (authority->port && *authority->port != port) {
    return refused(decision, "the Host header names port " + std::to_string(*authority->port) +
                                 ", but the connection is to port " + std::to_string(port));
  }
  if (scheme == "https") {
    if (!tls_authority && !authority->is_ip) {
      return refused(decision, "an HTTPS request without a TLS server name (SNI)");
    }
    if (tls_authority && tls_authority->host != authority->host) {
      return refused(decision, "the Host header '" + authority->host +
                                   "' is not the TLS server name '" + tls_authority->host +
                                   "' (domain fronting)");
    }
  }

  const std::string_view target = head.target;
  const bool asterisk = target == "*";
  const std::size_t query_start = std::min(target.find('?'), target.size());
  const std::string_view raw_path = asterisk ? target : target.substr(0, query_start);
  const std::string_view query = asterisk ? std::string_view() : target.substr(query_start);
  const auto forms = asterisk ? std::nullopt : path_forms(raw_path, &why);
  decision.path = forms ? forms->normalized : std::string(raw_path);
  const std::uint16_t default_port = scheme == "https" ? 443 : 80;
  decision.url = std::string(scheme) + "://" + decision.host +
                 (port == default_port ? "" : ":" + std::to_string(port)) + decision.path +
                 std::string(query);

  // Deny wins: a denied host, or a path a deny URL rule covers in either spelling (a server
  // may read the path as sent or normalized; either reading must not reach a denied path).
  if (const policy::Rule* deny = policy::denied_name(policy, decision.host))
    return refused(decision, policy::denial_reason(*deny));
  if (authority->is_ip) {
    if (const policy::Rule* deny = policy::denied_ip(policy, authority->family, authority->address,
                                                     port, policy::Transport::tcp))
      return refused(decision, policy::denial_reason(*deny));
  }
  if (host_has_deny_url_rules(policy, decision.host, scheme, port)) {
    if (asterisk) {
      return refused(decision, "deny URL rules cover some paths of " + decision.host +
                                   ", and 'OPTIONS *' cannot be checked against them");
    }
    if (!forms) return refused(decision, "ambiguous path: " + why);
    for (const policy::Rule& rule : policy.rules) {
      if (!url_rule_applies(rule, decision.host, scheme, port, policy::Effect::deny)) continue;
      if (deny_path_matches(*rule.url, forms->normalized) ||
          deny_path_matches(*rule.url, forms->as_sent))
        return refused(decision, policy::denial_reason(rule));
    }
  }
  if (policy.default_allow) {
    decision.allowed = true;  // only deny rules were given, and none covers this request
    return decision;
  }

  if (host_has_url_rules(policy, decision.host, scheme, port)) {
    if (asterisk) {
      return refused(decision, "URL rules allow only some paths of " + decision.host +
                                   ", and 'OPTIONS *' names none");
    }
    if (!forms) return refused(decision, "ambiguous path: " + why);
    bool normalized_only = false;
    for (const policy::Rule& rule : policy.rules) {
      if (!url_rule_applies(rule, decision.host, scheme, port)) continue;
      const bool normalized = path_matches(*rule.url, forms->normalized);
      // Both spellings must be allowed: a server that does not resolve "..", "." or "//" sees
      // the path as sent, and one that does sees the normalized path.
      if (normalized && path_matches(*rule.url, forms->as_sent)) {
        decision.allowed = true;
        decision.rule = &rule;
        return decision;
      }
      normalized_only = normalized_only || normalized;
    }
    if (normalized_only) {
      return refused(decision, "ambiguous path: a URL rule allows '" + forms->normalized +
                                   "' but not '" + forms->as_sent +
                                   "' as sent, which servers that do not normalize would see");
    }
    return refused(decision,
                   "no URL rule for " + decision.host + " allows the path '" + decision.path + "'");
  }

  // No URL rule names the host: the whole host is allowed or not, whatever the path.
  const policy::Rule* rule = authority->is_ip
                                 ? policy::match_ip(policy, authority->family, authority->address,
                                                    port, policy::Transport::tcp)
                                 : policy::match_domain(policy, decision.host);
  if (rule != nullptr && policy::allows_port(*rule, port, policy::Transport::tcp)) {
    decision.allowed = true;
    decision.rule = rule;
    return decision;
  }
  if (rule != nullptr) {
    return refused(decision,
                   "a rule allows " + decision.host + ", but not port " + std::to_string(port));
  }
  return refused(decision, "no rule allows the host " + decision.host);
}

}  // namespace cgfw::http
