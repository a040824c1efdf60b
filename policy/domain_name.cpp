#include "policy/domain_name.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <idn2.h>
#include <libpsl.h>

namespace cgfw::policy {
namespace {

constexpr std::size_t kMaxNameBytes = 253;
constexpr std::size_t kMaxLabelBytes = 63;

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

char to_lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_ldh(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-'; }

std::string describe_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte < 0x20 || byte >= 0x7f) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02X", byte);
    return hex;
  }
  return std::string(1, c);
}

// Clients (WHATWG URL parsers, inet_aton) read a name whose last label is a number as an IPv4
// address ("1.2.3" is 1.2.0.3, "010.1.1.1" is octal), so such a name must never be a host name.
bool looks_numeric(std::string_view label) {
  if (label.size() >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X')) {
    return std::all_of(label.begin() + 2, label.end(), is_hex_digit);
  }
  return !label.empty() && std::all_of(label.begin(), label.end(), is_digit);
}

struct IdnFree {
  void operator()(char* p) const { idn2_free(p); }
};

const psl_ctx_t* suffix_list() {
  // psl_builtin() is the list compiled into libpsl; psl_latest() also looks at the distribution's
  // file, which covers a libpsl built without one. Either lives as long as the process.
  static const psl_ctx_t* const ctx = [] {
    const psl_ctx_t* builtin = psl_builtin();
    return builtin != nullptr ? builtin : psl_latest(nullptr);
  }();
  return ctx;
}

}  // namespace

Status check_ldh_name(std::string_view ascii) {
  if (ascii.empty()) return make_error("empty name");
  if (ascii.size() > kMaxNameBytes) {
    return make_error("name is " + std::to_string(ascii.size()) + " bytes long; the limit is " +
                      std::to_string(kMaxNameBytes));
  }
  std::string_view last_label;
  std::size_t start = 0;
  while (start <= ascii.size()) {
    std::size_t end = ascii.find('.', start);
    if (end == std::string_view::npos) end = ascii.size();
    const std::string_view label = ascii.substr(start, end - start);
    if (label.empty()) return make_error("empty label (a leading dot or two dots in a row)");
    if (label.size() > kMaxLabelBytes) {
      return make_error("a label is " + std::to_string(label.size()) +
                        " bytes long; the limit is " + std::to_string(kMaxLabelBytes));
    }
    for (const char c : label) {
      if (!is_ldh(c)) {
        return make_error("'" + describe_char(c) +
                          "' is not allowed in a host name (only letters, digits and '-')");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return make_error("label '" + std::string(label) + "' starts or ends with '-'");
    }
    last_label = label;
    start = end + 1;
  }
  if (looks_numeric(last_label)) {
    return make_error(
        "the last label is numeric, so this is neither a host name nor a valid IPv4 address "
        "(four decimal numbers 0-255 without leading zeros)");
  }
  return Ok{};
}

Result<std::string> domain_to_ascii(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return make_error("empty name");

  std::string ascii;
  if (is_ascii(name)) {
    // An ASCII name is what goes on the wire, so it is taken literally (lower-cased): this is also
    // the way to write an A-label ("xn--...") that IDNA2008 would refuse to produce.
    ascii.resize(name.size());
    std::transform(name.begin(), name.end(), ascii.begin(), to_lower_ascii);
  } else {
    // Non-transitional processing is what current browsers and curl do first, and it keeps 'ß'
    // and final sigma distinct instead of folding them to "ss"/"σ". No transitional fallback:
    // it would map a name to a different host than the one its owner registered.
    char* out = nullptr;
    const std::string input(name);
    const int rc = idn2_to_ascii_8z(input.c_str(), &out, IDN2_NONTRANSITIONAL);
    std::unique_ptr<char, IdnFree> owned(out);
    if (rc != IDN2_OK) {
      return make_error(std::string("not a valid internationalized name: ") + idn2_strerror(rc));
    }
    ascii = owned.get();
    std::transform(ascii.begin(), ascii.end(), ascii.begin(), to_lower_ascii);
  }
  if (Status ok = check_ldh_name(ascii); !ok) return ok.error();
  return ascii;
}

Result<HostPattern> parse_host_pattern(std::string_view text) {
  if (text.empty()) return make_error("missing host name");
  HostPattern pattern;
  if (text.find('*') != std::string_view::npos) {
    if (text == "*.") return make_error("missing name after '*.'");
    if (text == "*") {
      return make_error(
          "a lone '*' would allow every name; write '*.example.com' to allow the names below "
          "example.com");
    }
    if (text.substr(0, 2) != "*." || text.find('*', 1) != std::string_view::npos) {
      return make_error("'*' is only allowed as the whole first label, as in '*.example.com'");
    }
    pattern.wildcard = true;
    text.remove_prefix(2);
  }
  Result<std::string> ascii = domain_to_ascii(text);
  if (!ascii) return ascii.error();
  pattern.name = std::move(ascii).value();

  // A wildcard over any suffix (even a private one such as github.io) lets in names that anyone
  // can register; an exact private suffix names one real host (s3.amazonaws.com), so only the
  // ICANN suffixes ("com", "co.uk"), which are never hosts, are refused as plain names.
  if (pattern.wildcard && is_public_suffix(pattern.name, SuffixScope::any)) {
    return make_error("'*." + pattern.name + "' covers the public suffix '" + pattern.name +
                      "', below which anyone can register names; list the hosts you need");
  }
  if (!pattern.wildcard && is_public_suffix(pattern.name, SuffixScope::icann)) {
    return make_error("'" + pattern.name + "' is a public suffix, not a host name");
  }
  return pattern;
}

bool is_public_suffix(std::string_view ascii, SuffixScope scope) {
  const psl_ctx_t* ctx = suffix_list();
  if (ctx == nullptr) {
    // Without a list, still refuse the widest mistake: a wildcard over a top-level domain.
    return scope == SuffixScope::any && ascii.find('.') == std::string_view::npos;
  }
  const int type =
      (scope == SuffixScope::icann ? PSL_TYPE_ICANN : PSL_TYPE_ANY) | PSL_TYPE_NO_STAR_RULE;
  const std::string name(ascii);
  return psl_is_public_suffix2(ctx, name.c_str(), type) != 0;
}

}  // namespace cgfw::policy
