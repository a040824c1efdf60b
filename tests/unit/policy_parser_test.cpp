#include "policy/parser.h"

#include <arpa/inet.h>

#include <cstring>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cgfw::policy {

// Lets GoogleTest print locations in failures instead of their bytes.
void PrintTo(const SourceLocation& where, std::ostream* out) { *out << where.to_string(); }

namespace {

IpPrefix prefix_of(int family, const char* text, int length) {
  IpPrefix prefix;
  prefix.family = family;
  EXPECT_EQ(inet_pton(family, text, prefix.address.data()), 1) << text;
  prefix.prefix_length = length;
  return prefix;
}

std::string describe(const ParseResult& result) {
  std::string out;
  for (const ParseError& error : result.errors) out += error.to_string() + "\n";
  return out;
}

Rule only_rule(std::string_view token) {
  ParseResult result = parse_rule(token, "t");
  EXPECT_TRUE(result.errors.empty()) << describe(result);
  EXPECT_EQ(result.rules.size(), 1U) << token;
  return result.rules.empty() ? Rule{} : result.rules.front();
}

std::string only_error(std::string_view token) {
  ParseResult result = parse_rule(token, "t");
  EXPECT_TRUE(result.rules.empty()) << token;
  EXPECT_EQ(result.errors.size(), 1U) << token;
  return result.errors.empty() ? "" : result.errors.front().why;
}

constexpr const char* kBom = "\xEF\xBB\xBF";

PortRange tcp(std::uint16_t first, std::uint16_t last) { return {first, last, Transport::tcp}; }
PortRange udp(std::uint16_t first, std::uint16_t last) { return {first, last, Transport::udp}; }

struct ErrorCase {
  const char* token;
  const char* why;
};

void expect_errors(const std::vector<ErrorCase>& cases) {
  for (const ErrorCase& c : cases) EXPECT_EQ(only_error(c.token), c.why) << c.token;
}

TEST(PolicyParser, DomainIsLowerCasedWithoutTrailingDot) {
  const Rule rule = only_rule("API.GitHub.com.");
  EXPECT_EQ(rule.kind, RuleKind::domain);
  EXPECT_EQ(rule.domain, "api.github.com");
  EXPECT_EQ(rule.text, "API.GitHub.com.");
  EXPECT_EQ(rule.where, (SourceLocation{"t", 1, 1}));
  EXPECT_TRUE(rule.ports.empty());
  EXPECT_FALSE(rule.prefix.has_value());
  EXPECT_FALSE(rule.url.has_value());
}

TEST(PolicyParser, WildcardStoresTheParent) {
  const Rule rule = only_rule("*.Example.COM");
  EXPECT_EQ(rule.kind, RuleKind::wildcard);
  EXPECT_EQ(rule.domain, "example.com");
  EXPECT_EQ(only_rule("*.example.com.").domain, "example.com");
}

TEST(PolicyParser, SingleLabelsAreNames) {
  EXPECT_EQ(only_rule("localhost").domain, "localhost");
  EXPECT_EQ(only_rule("*.localhost").kind, RuleKind::wildcard);
  EXPECT_EQ(only_rule("*.internal").domain, "internal");
}

TEST(PolicyParser, UnicodeNamesBecomePunycode) {
  EXPECT_EQ(only_rule("bücher.example").domain, "xn--bcher-kva.example");
  EXPECT_EQ(only_rule("BÜCHER.example").domain, "xn--bcher-kva.example");
  EXPECT_EQ(only_rule("*.bücher.example").domain, "xn--bcher-kva.example");
  // Non-transitional: 'ß' stays itself instead of becoming "ss".
  EXPECT_EQ(only_rule("faß.de").domain, "xn--fa-hia.de");
  EXPECT_EQ(only_rule("XN--BCHER-KVA.example").domain, "xn--bcher-kva.example");
  EXPECT_EQ(only_rule("bücher.example:443").ports, std::vector<PortRange>{tcp(443, 443)});
  EXPECT_EQ(only_error("-bücher.example").rfind("not a valid internationalized name: ", 0), 0U);
}

TEST(PolicyParser, PublicSuffixes) {
  expect_errors({
      {"com", "'com' is a public suffix, not a host name"},
      {"co.uk", "'co.uk' is a public suffix, not a host name"},
      {"COM.", "'com' is a public suffix, not a host name"},
      {"*.com",
       "'*.com' covers the public suffix 'com', below which anyone can register names; "
       "list the hosts you need"},
      {"*.co.uk",
       "'*.co.uk' covers the public suffix 'co.uk', below which anyone can register "
       "names; list the hosts you need"},
      {"*.github.io",
       "'*.github.io' covers the public suffix 'github.io', below which anyone "
       "can register names; list the hosts you need"},
  });
  // An exact private suffix is one real host.
  EXPECT_EQ(only_rule("github.io").domain, "github.io");
  EXPECT_EQ(only_rule("s3.amazonaws.com:443").domain, "s3.amazonaws.com");
  EXPECT_EQ(only_rule("*.example.co.uk").domain, "example.co.uk");
  EXPECT_EQ(only_rule("*.blob.core.windows.net").domain, "blob.core.windows.net");
}

TEST(PolicyParser, BadNames) {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  // 4 labels of 63 plus 3 dots is 255; trim to exactly 253 and 254.
  const std::string long_name = label63 + "." + label63 + "." + label63 + "." + label63;
  EXPECT_EQ(only_rule(label63 + ".com").domain, label63 + ".com");
  EXPECT_EQ(only_rule(long_name.substr(2)).domain.size(), 253U);
  EXPECT_EQ(only_error(label64 + ".com"), "a label is 64 bytes long; the limit is 63");
  EXPECT_EQ(only_error(long_name.substr(1)), "name is 254 bytes long; the limit is 253");
  const char* numeric =
      "the last label is numeric, so this is neither a host name nor a valid IPv4 address (four "
      "decimal numbers 0-255 without leading zeros)";
  expect_errors({
      {"exa*mple.com", "'*' is only allowed as the whole first label, as in '*.example.com'"},
      {"*example.com", "'*' is only allowed as the whole first label, as in '*.example.com'"},
      {"a.*.example.com", "'*' is only allowed as the whole first label, as in '*.example.com'"},
      {"*.*.example.com", "'*' is only allowed as the whole first label, as in '*.example.com'"},
      {"example.*", "'*' is only allowed as the whole first label, as in '*.example.com'"},
      {"*",
       "a lone '*' would allow every name; write '*.example.com' to allow the names below "
       "example.com"},
      {"*.", "missing name after '*.'"},
      {"a..b", "empty label (a leading dot or two dots in a row)"},
      {".example.com", "empty label (a leading dot or two dots in a row)"},
      {"example.com..", "empty label (a leading dot or two dots in a row)"},
      {".", "empty name"},
      {"a_b.example.com", "'_' is not allowed in a host name (only letters, digits and '-')"},
      {"a!b.example.com", "'!' is not allowed in a host name (only letters, digits and '-')"},
      {"-a.example.com", "label '-a' starts or ends with '-'"},
      {"a-.example.com", "label 'a-' starts or ends with '-'"},
      {"1.2.3", numeric},
      {"256.1.1.1", numeric},
      {"198.51.100.07", numeric},
      {"example.0x1f", numeric},
      {":443", "missing host before ':'"},
      {"example.com/path",
       "a '/' after a name starts a path, which only URL rules have, as in "
       "'https://example.com/path'"},
  });
  EXPECT_EQ(only_rule("a-b.3com.example").domain, "a-b.3com.example");
}

TEST(PolicyParser, Ports) {
  EXPECT_EQ(only_rule("example.com:443").ports, std::vector<PortRange>{tcp(443, 443)});
  EXPECT_EQ(only_rule("example.com:80,443").ports,
            (std::vector<PortRange>{tcp(80, 80), tcp(443, 443)}));
  EXPECT_EQ(only_rule("example.com:8000-8100").ports, std::vector<PortRange>{tcp(8000, 8100)});
  EXPECT_EQ(only_rule("example.com:80,8000-8100").ports,
            (std::vector<PortRange>{tcp(80, 80), tcp(8000, 8100)}));
  EXPECT_EQ(only_rule("example.com:53/udp").ports, std::vector<PortRange>{udp(53, 53)});
  EXPECT_EQ(only_rule("example.com:53,5353/UDP").ports,
            (std::vector<PortRange>{udp(53, 53), udp(5353, 5353)}));
  EXPECT_EQ(only_rule("example.com:443/tcp").ports, std::vector<PortRange>{tcp(443, 443)});
  EXPECT_EQ(only_rule("example.com:1-65535").ports, std::vector<PortRange>{tcp(1, 65535)});
  EXPECT_EQ(only_rule("*.example.com:443").ports, std::vector<PortRange>{tcp(443, 443)});
  EXPECT_EQ(only_rule("example.com:443-443").ports, std::vector<PortRange>{tcp(443, 443)});
  expect_errors({
      {"example.com:", "':' must be followed by ports, as in ':443', ':80,443' or ':8000-8100'"},
      {"example.com:/udp",
       "':' must be followed by ports, as in ':443', ':80,443' or ':8000-8100'"},
      {"example.com:80,", "empty entry in the port list (a stray ',')"},
      {"example.com:,80", "empty entry in the port list (a stray ',')"},
      {"example.com:80,,443", "empty entry in the port list (a stray ',')"},
      {"example.com:0", "port 0 is not allowed (ports are 1-65535)"},
      {"example.com:0-10", "port 0 is not allowed (ports are 1-65535)"},
      {"example.com:65536", "port 65536 is out of range (ports are 1-65535)"},
      {"example.com:99999999999999999999",
       "port 99999999999999999999 is out of range (ports "
       "are 1-65535)"},
      {"example.com:9-1", "port range 9-1 is reversed; write 1-9"},
      {"example.com:https", "'https' is not a port number"},
      {"example.com:+443", "'+443' is not a port number"},
      {"example.com:80-", "'80-' is not a port range; write FIRST-LAST, as in '8000-8100'"},
      {"example.com:-80", "'-80' is not a port range; write FIRST-LAST, as in '8000-8100'"},
      {"example.com:1-2-3", "'1-2-3' is not a port range; write FIRST-LAST, as in '8000-8100'"},
      {"example.com:53/", "'/' after the ports must be followed by 'tcp' or 'udp'"},
      {"example.com:53/sctp", "unknown transport 'sctp' (use '/tcp' or '/udp')"},
      {"example.com:53/udp/tcp", "unknown transport 'udp/tcp' (use '/tcp' or '/udp')"},
      {"example.com/udp", "'/udp' needs ports before it, as in 'example.com:53/udp'"},
      {"example.com:443:80",
       "more than one ':' (list several ports with ',', as in "
       "'example.com:80,443'; bracket IPv6 addresses)"},
  });
}

TEST(PolicyParser, Ipv4) {
  Rule rule = only_rule("198.51.100.7");
  EXPECT_EQ(rule.kind, RuleKind::ip);
  EXPECT_EQ(rule.prefix, prefix_of(AF_INET, "198.51.100.7", 32));
  EXPECT_TRUE(rule.domain.empty());
  EXPECT_EQ(only_rule("198.51.100.0/24").prefix, prefix_of(AF_INET, "198.51.100.0", 24));
  EXPECT_EQ(only_rule("0.0.0.0/0").prefix, prefix_of(AF_INET, "0.0.0.0", 0));
  rule = only_rule("198.51.100.7:5353/udp");
  EXPECT_EQ(rule.prefix, prefix_of(AF_INET, "198.51.100.7", 32));
  EXPECT_EQ(rule.ports, std::vector<PortRange>{udp(5353, 5353)});
  rule = only_rule("198.51.100.0/24:53/udp");
  EXPECT_EQ(rule.prefix, prefix_of(AF_INET, "198.51.100.0", 24));
  EXPECT_EQ(rule.ports, std::vector<PortRange>{udp(53, 53)});
  expect_errors({
      {"198.51.100.7/24",
       "host bits are set below the /24 prefix; the network is "
       "198.51.100.0/24 (or drop the length for the single address)"},
      {"198.51.100.0/33", "prefix length 33 is longer than 32 bits"},
      {"198.51.100.0/", "prefix length '' is not a number 0-32"},
      {"198.51.100.0/x", "prefix length 'x' is not a number 0-32"},
      {"198.51.100.0/24/udp", "prefix length '24/udp' is not a number 0-32"},
      {"198.51.100.7/udp", "'/udp' needs ports before it, as in '198.51.100.7:53/udp'"},
      {"198.51.100.7/TCP", "'/TCP' needs ports before it, as in '198.51.100.7:53/TCP'"},
      {"198.51.100.7:0", "port 0 is not allowed (ports are 1-65535)"},
  });
}

TEST(PolicyParser, Ipv6) {
  EXPECT_EQ(only_rule("[2001:db8::1]").prefix, prefix_of(AF_INET6, "2001:db8::1", 128));
  EXPECT_EQ(only_rule("2001:db8::1").prefix, prefix_of(AF_INET6, "2001:db8::1", 128));
  EXPECT_EQ(only_rule("2001:DB8::/32").prefix, prefix_of(AF_INET6, "2001:db8::", 32));
  EXPECT_EQ(only_rule("[2001:db8::]/32").prefix, prefix_of(AF_INET6, "2001:db8::", 32));
  EXPECT_EQ(only_rule("::/0").prefix, prefix_of(AF_INET6, "::", 0));
  Rule rule = only_rule("[2001:db8::1]:443");
  EXPECT_EQ(rule.prefix, prefix_of(AF_INET6, "2001:db8::1", 128));
  EXPECT_EQ(rule.ports, std::vector<PortRange>{tcp(443, 443)});
  rule = only_rule("[2001:db8::]/32:53,5353/udp");
  EXPECT_EQ(rule.prefix, prefix_of(AF_INET6, "2001:db8::", 32));
  EXPECT_EQ(rule.ports, (std::vector<PortRange>{udp(53, 53), udp(5353, 5353)}));
  // Without brackets the last group is part of the address, not a port.
  EXPECT_EQ(only_rule("2001:db8::1:443").prefix, prefix_of(AF_INET6, "2001:db8::1:443", 128));
  expect_errors({
      {"2001:db8::/32:443",
       "ports after an IPv6 address need brackets, as in "
       "'[2001:db8::]/32:443'"},
      {"2001:db8::1/udp", "'/udp' needs ports before it, as in '[2001:db8::1]:53/udp'"},
      {"[2001:db8::1]/udp", "'/udp' needs ports before it, as in '[2001:db8::1]:53/udp'"},
      {"2001:db8::1/64",
       "host bits are set below the /64 prefix; the network is 2001:db8::/64 "
       "(or drop the length for the single address)"},
      {"2001:db8::/129", "prefix length 129 is longer than 128 bits"},
      {"2001:db8:::1", "'2001:db8:::1' is not a valid IPv6 address"},
      {"fe80::1%eth0", "'fe80::1%eth0' is not a valid IPv6 address"},
      {"[2001:db8::1", "missing ']' after the IPv6 address"},
      {"[2001:db8::1]443", "unexpected '443' after ']'"},
      {"[2001:db8::1]:", "':' must be followed by ports, as in ':443', ':80,443' or ':8000-8100'"},
      {"[2001:db8::/32]", "put the prefix length after the ']', as in '[2001:db8::]/32'"},
      {"[198.51.100.7]", "brackets are only for IPv6 addresses; write '198.51.100.7' without them"},
      {"[example.com]", "'example.com' is not a valid IPv6 address"},
  });
}

TEST(PolicyParser, Ipv4MappedIpv6BecomesIpv4) {
  EXPECT_EQ(only_rule("::ffff:198.51.100.7").prefix, prefix_of(AF_INET, "198.51.100.7", 32));
  EXPECT_EQ(only_rule("[::ffff:198.51.100.7]:443").prefix, prefix_of(AF_INET, "198.51.100.7", 32));
  EXPECT_EQ(only_rule("::ffff:198.51.100.0/120").prefix, prefix_of(AF_INET, "198.51.100.0", 24));
  // Shorter than /96 it covers more than the mapped range, so it stays IPv6.
  EXPECT_EQ(only_rule("::fffe:0:0/95").prefix, prefix_of(AF_INET6, "::fffe:0:0", 95));
}

TEST(PolicyParser, Urls) {
  Rule rule = only_rule("https://GitHub.com/Org/*");
  EXPECT_EQ(rule.kind, RuleKind::url);
  ASSERT_TRUE(rule.url.has_value());
  EXPECT_EQ(rule.url->scheme, "https");
  EXPECT_EQ(rule.url->host, "github.com");
  EXPECT_EQ(rule.url->port, 443);
  EXPECT_EQ(rule.url->path, "/Org/");
  EXPECT_TRUE(rule.url->path_is_prefix);
  EXPECT_EQ(rule.ports, std::vector<PortRange>{tcp(443, 443)});
  EXPECT_TRUE(rule.domain.empty());

  rule = only_rule("HTTP://example.com:8080/a/b");
  EXPECT_EQ(rule.url->scheme, "http");
  EXPECT_EQ(rule.url->port, 8080);
  EXPECT_EQ(rule.url->path, "/a/b");
  EXPECT_FALSE(rule.url->path_is_prefix);
  EXPECT_EQ(rule.ports, std::vector<PortRange>{tcp(8080, 8080)});

  EXPECT_EQ(only_rule("http://example.com/").url->port, 80);
  rule = only_rule("https://example.com");
  EXPECT_EQ(rule.url->path, "/");
  EXPECT_TRUE(rule.url->path_is_prefix);
  rule = only_rule("https://example.com/");
  EXPECT_EQ(rule.url->path, "/");
  EXPECT_FALSE(rule.url->path_is_prefix);
  rule = only_rule("https://example.com/org*");
  EXPECT_EQ(rule.url->path, "/org");
  EXPECT_TRUE(rule.url->path_is_prefix);
  EXPECT_EQ(only_rule("https://*.Bücher.example./x").url->host, "*.xn--bcher-kva.example");
  EXPECT_EQ(only_rule("https://198.51.100.7:8443/").url->host, "198.51.100.7");
  EXPECT_EQ(only_rule("https://[2001:DB8::1]/").url->host, "[2001:db8::1]");
  EXPECT_EQ(only_rule("https://[2001:db8::1]:8443/").url->port, 8443);
  EXPECT_EQ(only_rule("https://[::ffff:198.51.100.7]/").url->host, "198.51.100.7");
  EXPECT_EQ(only_rule("https://h.example/a%7e%2f%2Fb%41").url->path, "/a~%2F%2FbA");
  EXPECT_EQ(only_rule("https://h.example/dü").url->path, "/d%C3%BC");
  EXPECT_EQ(only_rule("https://h.example/.well-known/x;v=1:@!$&'()+,=").url->path,
            "/.well-known/x;v=1:@!$&'()+,=");
  EXPECT_EQ(only_rule("https://h.example/a%2A").url->path, "/a%2A");
  expect_errors({
      {"ftp://example.com/",
       "unsupported scheme 'ftp'; a URL rule starts with 'https://' or "
       "'http://'"},
      {"://example.com/", "unsupported scheme ''; a URL rule starts with 'https://' or 'http://'"},
      {"https://", "missing host after 'https://'"},
      {"https:///path", "missing host after 'https://'"},
      {"https://user@example.com/", "user information ('user@') is not allowed in a URL rule"},
      {"https://example.com/a?b=1",
       "a query string ('?') is not allowed; a URL rule matches a "
       "path"},
      {"https://example.com/a*/b", "'*' is only allowed at the very end of a URL path"},
      {"https://example.com/a**", "'*' is only allowed at the very end of a URL path"},
      {"https://example.com/a/../b",
       "'.' and '..' path segments are not allowed; write the path "
       "they lead to"},
      {"https://example.com/./b",
       "'.' and '..' path segments are not allowed; write the path "
       "they lead to"},
      {"https://example.com/a/..",
       "'.' and '..' path segments are not allowed; write the path "
       "they lead to"},
      {"https://example.com/%2e%2E/b",
       "'.' and '..' path segments are not allowed; write the "
       "path they lead to"},
      {"https://example.com/a/.*",
       "'.' and '..' path segments are not allowed; write the path "
       "they lead to"},
      {"https://example.com/a%2", "'%' in a path must be followed by two hex digits"},
      {"https://example.com/a%zz", "'%' in a path must be followed by two hex digits"},
      {"https://example.com/a\\b",
       "character '\\' is not allowed in a URL path (percent-encode "
       "it)"},
      {"https://example.com/a|b",
       "character '|' is not allowed in a URL path (percent-encode "
       "it)"},
      {"https://example.com:/", "':' must be followed by a port"},
      {"https://example.com:0/", "port 0 is not allowed (ports are 1-65535)"},
      {"https://example.com:443,8443/", "a URL rule takes one port, not a list or a range"},
      {"https://example.com:1-2/", "a URL rule takes one port, not a list or a range"},
      {"https://example.com:http/", "'http' is not a port number"},
      {"https://2001:db8::1/",
       "an IPv6 address in a URL needs brackets, as in "
       "'https://[2001:db8::1]/'"},
      {"https://[2001:db8::1/", "missing ']' after the IPv6 address"},
      {"https://[2001:db8::x]/", "'2001:db8::x' is not a valid IPv6 address"},
      {"https://[2001:db8::1]x/", "unexpected 'x' after ']'"},
      {"https://*.com/",
       "'*.com' covers the public suffix 'com', below which anyone can register "
       "names; list the hosts you need"},
      {"https://co.uk/", "'co.uk' is a public suffix, not a host name"},
      {"https://exa*mple.com/",
       "'*' is only allowed as the whole first label, as in "
       "'*.example.com'"},
      {"https://a_b.example/", "'_' is not allowed in a host name (only letters, digits and '-')"},
      {"https://:443/", "missing host name"},
  });
}

TEST(PolicyParser, HardenRunnerPaste) {
  const std::string text =
      "# from step-security/harden-runner\n"
      "\n"
      "  github.com:443 api.github.com:443\n"
      "\tobjects.githubusercontent.com:443   registry.npmjs.org:443 # npm\n"
      "pypi.org:443\r\n"
      "files.pythonhosted.org:443#no space before the comment\n"
      "   # indented comment\n";
  const ParseResult result = parse_rules(text, "egress.txt");
  ASSERT_TRUE(result.errors.empty()) << describe(result);
  ASSERT_EQ(result.rules.size(), 6U);
  const std::vector<std::pair<std::string, SourceLocation>> expected = {
      {"github.com", {"egress.txt", 3, 3}},
      {"api.github.com", {"egress.txt", 3, 18}},
      {"objects.githubusercontent.com", {"egress.txt", 4, 2}},
      {"registry.npmjs.org", {"egress.txt", 4, 38}},
      {"pypi.org", {"egress.txt", 5, 1}},
      {"files.pythonhosted.org", {"egress.txt", 6, 1}},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(result.rules[i].domain, expected[i].first);
    EXPECT_EQ(result.rules[i].where, expected[i].second) << result.rules[i].where.to_string();
    EXPECT_EQ(result.rules[i].ports, std::vector<PortRange>{tcp(443, 443)});
    EXPECT_EQ(result.rules[i].id, i);
    EXPECT_EQ(result.rules[i].text, expected[i].first + ":443");
  }
}

TEST(PolicyParser, EveryErrorIsReportedAndNoRulesKept) {
  const std::string text =
      "good.example\n"
      "  exa*mple.com ok.example 198.51.100.7/24\n"
      "# comment *.com\n"
      "\n"
      "https://example.com/a?b example.com:0\n";
  const ParseResult result = parse_rules(text, "egress.txt");
  EXPECT_TRUE(result.rules.empty());
  ASSERT_EQ(result.errors.size(), 4U) << describe(result);
  EXPECT_EQ(result.errors[0].to_string(),
            "egress.txt:2:3: 'exa*mple.com': '*' is only allowed as the whole first label, as in "
            "'*.example.com'");
  EXPECT_EQ(result.errors[1].to_string(),
            "egress.txt:2:27: '198.51.100.7/24': host bits are set below the /24 prefix; the "
            "network is 198.51.100.0/24 (or drop the length for the single address)");
  EXPECT_EQ(result.errors[2].to_string(),
            "egress.txt:5:1: 'https://example.com/a?b': a query string ('?') is not allowed; a "
            "URL rule matches a path");
  EXPECT_EQ(result.errors[3].to_string(),
            "egress.txt:5:25: 'example.com:0': port 0 is not allowed (ports are 1-65535)");
  EXPECT_EQ(result.errors[3].where, (SourceLocation{"egress.txt", 5, 25}));
  EXPECT_EQ(result.errors[3].token, "example.com:0");
}

TEST(PolicyParser, FragmentIsAComment) {
  const ParseResult result = parse_rules("https://example.com/docs#intro", "f");
  ASSERT_EQ(result.rules.size(), 1U) << describe(result);
  EXPECT_EQ(result.rules[0].url->path, "/docs");
  EXPECT_EQ(result.rules[0].text, "https://example.com/docs");
}

TEST(PolicyParser, DuplicatesAreKept) {
  const ParseResult result = parse_rules("example.com example.com\nexample.com", "f");
  ASSERT_EQ(result.rules.size(), 3U);
  EXPECT_EQ(result.rules[2].id, 2U);
  EXPECT_EQ(result.rules[2].where, (SourceLocation{"f", 2, 1}));
}

TEST(PolicyParser, EmptyTextHasNoRulesAndNoErrors) {
  for (const char* text : {"", "\n\n", "   \t\r\n# only a comment\n", kBom}) {
    const ParseResult result = parse_rules(text, "f");
    EXPECT_TRUE(result.rules.empty());
    EXPECT_TRUE(result.errors.empty()) << describe(result);
  }
}

TEST(PolicyParser, ByteOrderMarkIsIgnored) {
  const ParseResult result = parse_rules(std::string(kBom) + "example.com", "f");
  ASSERT_EQ(result.rules.size(), 1U) << describe(result);
  EXPECT_EQ(result.rules[0].text, "example.com");
  EXPECT_EQ(result.rules[0].where, (SourceLocation{"f", 1, 1}));
}

TEST(PolicyParser, BadBytesAreReportedWhereTheyAre) {
  const std::string text = std::string("ok.example\nab\0c.example good.example\n", 37) +
                           "x.example b\xFF.example\n"
                           "# comment with \xC3\x28 inside\n"
                           "a\x01.example\n"
                           "\xED\xA0\x80.example \xC0\xAF.example\n";
  const ParseResult result = parse_rules(text, "f");
  EXPECT_TRUE(result.rules.empty());
  ASSERT_EQ(result.errors.size(), 6U) << describe(result);
  EXPECT_EQ(result.errors[0].to_string(),
            "f:2:3: 'ab\\x00c.example': NUL byte (is this a binary "
            "file?)");
  EXPECT_EQ(result.errors[1].to_string(), "f:3:12: 'b\\xFF.example': invalid UTF-8 (byte 0xFF)");
  EXPECT_EQ(result.errors[2].to_string(), "f:4:16: '\\xC3(': invalid UTF-8 (byte 0xC3)");
  EXPECT_EQ(result.errors[3].to_string(), "f:5:2: 'a\\x01.example': control character 0x01");
  // A UTF-16 surrogate and an overlong '/' are not UTF-8.
  EXPECT_EQ(result.errors[4].to_string(),
            "f:6:1: '\\xED\\xA0\\x80.example': invalid UTF-8 (byte 0xED)");
  EXPECT_EQ(result.errors[5].where, (SourceLocation{"f", 6, 13}));
}

TEST(PolicyParser, ParseRuleIsOneTokenAtOneOne) {
  ParseResult result = parse_rule(" example.com:443 ", "--allow #2");
  ASSERT_EQ(result.rules.size(), 1U) << describe(result);
  EXPECT_EQ(result.rules[0].where, (SourceLocation{"--allow #2", 1, 1}));
  EXPECT_EQ(result.rules[0].text, "example.com:443");
  EXPECT_EQ(result.rules[0].where.to_string(), "--allow #2:1:1");

  result = parse_rule("example.com:0", "--allow #3");
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].to_string(),
            "--allow #3:1:1: 'example.com:0': port 0 is not allowed (ports are 1-65535)");
  EXPECT_EQ(only_error(""), "empty rule");
  EXPECT_EQ(only_error("  "), "empty rule");
  EXPECT_EQ(only_error("a.example b.example"),
            "a rule cannot contain whitespace; give one rule at a time");
  EXPECT_EQ(only_error("a.example#x"),
            "'#' is not allowed in a host name (only letters, digits and '-')");
  EXPECT_EQ(only_error(std::string("a\0b", 3)), "NUL byte (is this a binary file?)");
}

class PolicyParserFile : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = ::testing::TempDir() + "cgfw_policy_" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
};

TEST_F(PolicyParserFile, ReadsAndNamesTheFile) {
  const std::string path = write("good.txt", "# rules\nexample.com:443\n*.example.org\n");
  const ParseResult result = parse_file(path);
  ASSERT_TRUE(result.errors.empty()) << describe(result);
  ASSERT_EQ(result.rules.size(), 2U);
  EXPECT_EQ(result.rules[1].where, (SourceLocation{path, 3, 1}));
}

TEST_F(PolicyParserFile, ErrorsNameTheFile) {
  const std::string path = write("bad.txt", "example.com\n  *.com\n");
  const ParseResult result = parse_file(path);
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].where, (SourceLocation{path, 2, 3}));
  EXPECT_TRUE(result.rules.empty());
}

TEST_F(PolicyParserFile, MissingFile) {
  const std::string path = ::testing::TempDir() + "cgfw_policy_does_not_exist.txt";
  const ParseResult result = parse_file(path);
  EXPECT_TRUE(result.rules.empty());
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].where, (SourceLocation{path, 0, 0}));
  EXPECT_EQ(result.errors[0].to_string(),
            path + ": cannot read the file: " + std::strerror(ENOENT));
}

TEST_F(PolicyParserFile, Directory) {
  const ParseResult result = parse_file(::testing::TempDir());
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].why, std::string("cannot read the file: ") + std::strerror(EISDIR));
}

TEST_F(PolicyParserFile, TooLarge) {
  const std::string path = write("huge.txt", std::string(16 * 1024 * 1024 + 1, '\n'));
  const ParseResult result = parse_file(path);
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].to_string(),
            path + ": the file is larger than 16 MiB; a policy file is a list of rules");
  const std::string just_fits = write("fits.txt", std::string(16 * 1024 * 1024, '\n'));
  EXPECT_TRUE(parse_file(just_fits).errors.empty());
}

TEST(PolicyAppend, RenumbersIds) {
  Policy policy;
  append_rules(policy, parse_rules("a.example b.example", "one").rules);
  append_rules(policy, parse_rules("c.example d.example", "two").rules);
  ASSERT_EQ(policy.rules.size(), 4U);
  for (std::size_t i = 0; i < policy.rules.size(); ++i) EXPECT_EQ(policy.rules[i].id, i);
  EXPECT_EQ(policy.rules[2].domain, "c.example");
  EXPECT_EQ(policy.rules[2].where.file, "two");
  EXPECT_TRUE(policy.sources.empty());
}

TEST(PolicyRule, ToStrings) {
  EXPECT_EQ((SourceLocation{"egress.txt", 3, 5}).to_string(), "egress.txt:3:5");
  EXPECT_EQ((SourceLocation{"egress.txt", 0, 0}).to_string(), "egress.txt");
  EXPECT_EQ(prefix_of(AF_INET, "198.51.100.0", 24).to_string(), "198.51.100.0/24");
  EXPECT_EQ(prefix_of(AF_INET6, "2001:db8::1", 128).to_string(), "2001:db8::1/128");
  EXPECT_EQ(IpPrefix{}.to_string(), "");
  const ParseError error{{"egress.txt", 3, 5}, "exa*mple.com", "why"};
  EXPECT_EQ(error.to_string(), "egress.txt:3:5: 'exa*mple.com': why");
}

}  // namespace
}  // namespace cgfw::policy
