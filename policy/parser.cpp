#include "policy/parser.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "policy/domain_name.h"
#include "policy/ip_literal.h"
#include "policy/port_spec.h"
#include "policy/url_pattern.h"

namespace cgfw::policy {
namespace {

constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kWhitespace = " \t\r\v\f\n";

bool is_space(char c) { return kWhitespace.find(c) != std::string_view::npos; }

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string hex_byte(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", byte);
  return text;
}

// Length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no overlongs, no surrogates,
// nothing past U+10FFFF), or 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) -> unsigned {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0x100;
  };
  const unsigned lead = at(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned low = 0x80;
  unsigned high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (at(1) < low || at(1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (at(k) < 0x80 || at(k) > 0xBF) return 0;
  }
  return length;
}

struct BadByte {
  std::size_t offset = 0;
  std::string why;
};

// The first byte that cannot be part of a rule. Comments may hold control characters (tabs,
// stray escapes from a terminal) but, like rules, never NUL or invalid UTF-8.
std::optional<BadByte> find_bad_byte(std::string_view text, bool allow_controls) {
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == 0) return BadByte{i, "NUL byte (is this a binary file?)"};
    if (!allow_controls && (byte < 0x20 || byte == 0x7F)) {
      return BadByte{i, "control character " + hex_byte(byte)};
    }
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) return BadByte{i, "invalid UTF-8 (byte " + hex_byte(byte) + ")"};
    i += length;
  }
  return std::nullopt;
}

// Tokens in errors are printed on a terminal: escape what would garble it.
std::string displayable(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size();) {
    const auto byte = static_cast<unsigned char>(token[i]);
    const std::size_t length = utf8_sequence_length(token, i);
    if (byte < 0x20 || byte == 0x7F || length == 0) {
      out += "\\x" + hex_byte(byte).substr(2);
      ++i;
    } else {
      out.append(token.substr(i, length));
      i += length;
    }
  }
  return out;
}

bool is_transport_name(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return lower == "tcp" || lower == "udp";
}

// "/udp" right after an address is read as a prefix length by CIDR, so a transport may only
// follow ports.
Error transport_needs_ports(std::string_view host, std::string_view transport) {
  return make_error("'/" + std::string(transport) + "' needs ports before it, as in '" +
                    std::string(host) + ":53/" + std::string(transport) + "'");
}

Result<IpPrefix> apply_length(const IpPrefix& address, std::string_view host,
                              std::optional<std::string_view> length) {
  if (!length) return fold_ipv4_mapped(address);
  if (is_transport_name(*length)) return transport_needs_ports(host, *length);
  Result<IpPrefix> prefix = with_prefix_length(address, *length);
  if (!prefix) return prefix.error();
  return fold_ipv4_mapped(*prefix);
}

Status add_ports(Rule& rule, std::optional<std::string_view> spec) {
  if (!spec) return Ok{};
  Result<std::vector<PortRange>> ports = parse_port_spec(*spec);
  if (!ports) return ports.error();
  rule.ports = std::move(ports).value();
  return Ok{};
}

Result<Rule> ip_rule(Result<IpPrefix> prefix, std::optional<std::string_view> port_spec) {
  if (!prefix) return prefix.error();
  Rule rule;
  rule.kind = RuleKind::ip;
  rule.prefix = *prefix;
  if (Status ok = add_ports(rule, port_spec); !ok) return ok.error();
  return rule;
}

// "[2001:db8::1]", "[2001:db8::]/32", either with ":PORTS[/transport]".
Result<Rule> parse_bracketed(std::string_view token) {
  const std::size_t close = token.find(']');
  if (close == std::string_view::npos) return make_error("missing ']' after the IPv6 address");
  const std::string_view inside = token.substr(1, close - 1);
  if (inside.find('/') != std::string_view::npos) {
    return make_error("put the prefix length after the ']', as in '[2001:db8::]/32'");
  }
  const std::optional<IpPrefix> address = parse_ipv6(inside);
  if (!address) {
    if (parse_ipv4(inside)) {
      return make_error("brackets are only for IPv6 addresses; write '" + std::string(inside) +
                        "' without them");
    }
    return make_error("'" + std::string(inside) + "' is not a valid IPv6 address");
  }
  std::string_view rest = token.substr(close + 1);
  std::optional<std::string_view> length;
  std::optional<std::string_view> port_spec;
  if (!rest.empty() && rest.front() == '/') {
    const std::size_t colon = std::min(rest.find(':'), rest.size());
    length = rest.substr(1, colon - 1);
    rest.remove_prefix(colon);
  }
  if (!rest.empty() && rest.front() != ':') {
    return make_error("unexpected '" + std::string(rest) + "' after ']'");
  }
  if (!rest.empty()) port_spec = rest.substr(1);
  return ip_rule(apply_length(*address, token.substr(0, close + 1), length), port_spec);
}

// An unbracketed IPv6 address or prefix: "2001:db8::1", "2001:db8::/32"; it cannot carry ports,
// since "2001:db8::1:443" is itself an address.
Result<Rule> parse_bare_ipv6(std::string_view token) {
  const std::size_t slash = token.find('/');
  const std::string_view address_text = token.substr(0, slash);
  std::optional<std::string_view> length;
  if (slash != std::string_view::npos) length = token.substr(slash + 1);
  if (length && length->find(':') != std::string_view::npos) {
    return make_error("ports after an IPv6 address need brackets, as in '[" +
                      std::string(address_text) + "]/" + std::string(*length) + "'");
  }
  const std::optional<IpPrefix> address = parse_ipv6(address_text);
  if (!address) {
    const std::string_view first = address_text.substr(0, address_text.find(':'));
    if (!std::all_of(first.begin(), first.end(), is_hex_digit)) {
      return make_error(
          "more than one ':' (list several ports with ',', as in "
          "'example.com:80,443'; bracket IPv6 addresses)");
    }
    return make_error("'" + std::string(address_text) + "' is not a valid IPv6 address");
  }
  const std::string bracketed = "[" + std::string(address_text) + "]";
  return ip_rule(apply_length(*address, bracketed, length), std::nullopt);
}

// "example.com", "*.example.com", "198.51.100.7", "198.51.100.0/24", each with ":PORTS".
Result<Rule> parse_plain(std::string_view token) {
  if (std::count(token.begin(), token.end(), ':') >= 2) return parse_bare_ipv6(token);
  std::string_view host = token;
  std::optional<std::string_view> port_spec;
  if (const std::size_t colon = token.find(':'); colon != std::string_view::npos) {
    host = token.substr(0, colon);
    port_spec = token.substr(colon + 1);
  }
  if (host.empty()) return make_error("missing host before ':'");

  if (const std::size_t slash = host.find('/'); slash != std::string_view::npos) {
    const std::string_view address_text = host.substr(0, slash);
    const std::string_view after = host.substr(slash + 1);
    if (const std::optional<IpPrefix> v4 = parse_ipv4(address_text)) {
      return ip_rule(apply_length(*v4, address_text, after), port_spec);
    }
    if (is_transport_name(after)) return transport_needs_ports(address_text, after);
    const std::string url = "https://" + std::string(address_text) + "/" + std::string(after);
    return make_error("a '/' after a name starts a path, which only URL rules have, as in '" + url +
                      "'");
  }
  if (const std::optional<IpPrefix> v4 = parse_ipv4(host)) {
    return ip_rule(*v4, port_spec);
  }
  Result<HostPattern> pattern = parse_host_pattern(host);
  if (!pattern) return pattern.error();
  Rule rule;
  rule.kind = pattern->wildcard ? RuleKind::wildcard : RuleKind::domain;
  rule.domain = std::move(pattern->name);
  if (Status ok = add_ports(rule, port_spec); !ok) return ok.error();
  return rule;
}

Result<Rule> parse_token(std::string_view token) {
  if (looks_like_url(token)) {
    Result<UrlPattern> url = parse_url_pattern(token);
    if (!url) return url.error();
    Rule rule;
    rule.kind = RuleKind::url;
    // The kernel lets the connection through to the proxy on this port; the proxy checks the rest.
    rule.ports = {PortRange{url->port, url->port, Transport::tcp}};
    rule.url = std::move(url).value();
    return rule;
  }
  if (token.front() == '[') return parse_bracketed(token);
  return parse_plain(token);
}

void parse_one(std::string_view token, SourceLocation where, ParseResult& result) {
  Result<Rule> rule = parse_token(token);
  if (!rule) {
    result.errors.push_back(ParseError{std::move(where), displayable(token), rule.error().message});
    return;
  }
  rule->text = std::string(token);
  rule->where = std::move(where);
  rule->id = static_cast<std::uint32_t>(result.rules.size());
  result.rules.push_back(std::move(rule).value());
}

// Walks one line: tokens, then an optional comment.
void parse_line(std::string_view line, int line_number, const std::string& source,
                ParseResult& result) {
  std::size_t i = 0;
  while (i < line.size()) {
    if (is_space(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == '#') {
      const std::string_view comment = line.substr(i);
      if (const std::optional<BadByte> bad = find_bad_byte(comment, true)) {
        const std::size_t at = i + bad->offset;
        std::size_t start = at;
        while (start > i && !is_space(line[start - 1])) --start;
        const std::size_t end = std::min(line.find_first_of(kWhitespace, at), line.size());
        result.errors.push_back(ParseError{{source, line_number, static_cast<int>(at) + 1},
                                           displayable(line.substr(start, end - start)),
                                           bad->why});
      }
      return;
    }
    const std::size_t end = std::min(line.find_first_of(" \t\r\v\f#", i), line.size());
    const std::string_view token = line.substr(i, end - i);
    if (const std::optional<BadByte> bad = find_bad_byte(token, false)) {
      const SourceLocation where{source, line_number, static_cast<int>(i + bad->offset) + 1};
      result.errors.push_back(ParseError{where, displayable(token), bad->why});
    } else {
      parse_one(token, SourceLocation{source, line_number, static_cast<int>(i) + 1}, result);
    }
    i = end;
  }
}

ParseResult file_error(const std::string& path, std::string why) {
  ParseResult result;
  result.errors.push_back(ParseError{SourceLocation{path, 0, 0}, "", std::move(why)});
  return result;
}

}  // namespace

std::string ParseError::to_string() const {
  if (where.line <= 0 && token.empty()) return where.to_string() + ": " + why;
  return where.to_string() + ": '" + token + "': " + why;
}

ParseResult parse_rules(std::string_view text, const std::string& source) {
  ParseResult result;
  // Editors on Windows start UTF-8 files with a byte order mark; it is not part of any rule.
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  int line_number = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    parse_line(text.substr(start, end - start), line_number, source, result);
    start = end + 1;
    ++line_number;
  }
  if (!result.errors.empty()) result.rules.clear();
  return result;
}

ParseResult parse_rule(std::string_view token, const std::string& source) {
  const SourceLocation where{source, 1, 1};
  ParseResult result;
  // A value from a script or a shell may carry stray surrounding blanks; they are not the rule.
  const std::size_t first = token.find_first_not_of(kWhitespace);
  token = first == std::string_view::npos
              ? std::string_view()
              : token.substr(first, token.find_last_not_of(kWhitespace) - first + 1);
  if (token.empty()) {
    result.errors.push_back(ParseError{where, "", "empty rule"});
  } else if (token.find_first_of(kWhitespace) != std::string_view::npos) {
    result.errors.push_back(ParseError{
        where, displayable(token), "a rule cannot contain whitespace; give one rule at a time"});
  } else if (const std::optional<BadByte> bad = find_bad_byte(token, false)) {
    result.errors.push_back(ParseError{where, displayable(token), bad->why});
  } else {
    parse_one(token, where, result);
  }
  if (!result.errors.empty()) result.rules.clear();
  return result;
}

ParseResult parse_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return file_error(path, std::string("cannot read the file: ") + std::strerror(errno));
  // Read to the end rather than trusting st_size, so pipes and <(process substitution) work too.
  std::string content;
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      return file_error(path, std::string("cannot read the file: ") + std::strerror(saved));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > kMaxFileBytes) {
      ::close(fd);
      return file_error(path, "the file is larger than 16 MiB; a policy file is a list of rules");
    }
  }
  ::close(fd);
  return parse_rules(content, path);
}

void make_deny_rules(ParseResult& parsed) {
  for (Rule& rule : parsed.rules) {
    rule.effect = Effect::deny;
    if ((rule.kind == RuleKind::domain || rule.kind == RuleKind::wildcard) && !rule.ports.empty())
      parsed.errors.push_back(ParseError{
          rule.where, rule.text,
          "a deny rule for a name denies it on every port (names are refused in DNS, TLS and "
          "HTTP, which know no port); write the name alone, or deny the addresses with ports"});
    if (rule.kind == RuleKind::url && rule.url && rule.url->scheme == "https" &&
        (rule.url->host.starts_with("[") ||
         rule.url->host.find_first_not_of("0123456789.") == std::string::npos))
      parsed.errors.push_back(ParseError{
          rule.where, rule.text,
          "an HTTPS deny URL rule needs a host name: TLS to a bare address carries no name to "
          "look into it by; deny the address instead"});
  }
  if (!parsed.errors.empty()) parsed.rules.clear();
}

// Ids are positions; only the new rules need theirs. (No reserve: called once per rule, an exact
// reserve would reallocate every time and make n appends cost n².)
void append_rules(Policy& policy, std::vector<Rule> more) {
  for (Rule& rule : more) {
    rule.id = static_cast<std::uint32_t>(policy.rules.size());
    policy.rules.push_back(std::move(rule));
  }
}

}  // namespace cgfw::policy
