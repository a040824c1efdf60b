#include "proxy/http/http_syntax.h"

#include <algorithm>
#include <cstdio>

namespace cgfw::http {
namespace {

constexpr std::size_t kMaxChunkSizeDigits = 16;
constexpr std::size_t kMaxChunkLine = 4096;  // a chunk-size line with its extensions

// Field values: visible ASCII, obs-text, space and tab; no other control character.
bool is_field_byte(unsigned char c) { return c == '\t' || c == ' ' || (c > 0x20 && c != 0x7f); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string byte_text(unsigned char c) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", c);
  return text;
}

// Splits the next line off `rest`; lines must end in CRLF with no CR inside.
bool next_strict_line(std::string_view& rest, std::string_view& line, std::string& why) {
  const std::size_t lf = rest.find('\n');
  if (lf == std::string_view::npos || lf == 0 || rest[lf - 1] != '\r') {
    why = "a line of the head ends in a bare LF; HTTP lines end in CRLF";
    return false;
  }
  line = rest.substr(0, lf - 1);
  rest.remove_prefix(lf + 1);
  if (line.find('\r') != std::string_view::npos) {
    why = "a bare CR inside a line of the head";
    return false;
  }
  return true;
}

bool refuse(std::string& why, std::string text) {
  why = std::move(text);
  return false;
}

}  // namespace

bool is_tchar(unsigned char c) {
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         kSymbols.find(static_cast<char>(c)) != std::string_view::npos;
}

std::string printable(std::string_view text, std::size_t limit) {
  std::string out;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\') {
      out += c;
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

// RFC 9112 request head, strictly: "METHOD SP target SP HTTP/d.d CRLF", then "name: value CRLF"
// lines, then CRLF. http_parser alone is lenient (bare LF, obs-fold, "Name :", several spaces)
// and every leniency is a place where the server may frame the request differently.
std::string parse_request_head(std::string_view raw, RequestHead& head) {
  std::string why;
  std::string_view line;
  if (!next_strict_line(raw, line, why)) return why;
  const std::size_t first_space = line.find(' ');
  if (first_space == std::string_view::npos || first_space == 0) {
    return "the request line has no method";
  }
  const std::string_view method = line.substr(0, first_space);
  for (const char c : method) {
    if (!is_tchar(static_cast<unsigned char>(c))) return "the method is not a token";
  }
  const std::string_view after_method = line.substr(first_space + 1);
  const std::size_t second_space = after_method.find(' ');
  if (second_space == std::string_view::npos) {
    return "the request line has no HTTP version (HTTP/0.9 is not supported)";
  }
  const std::string_view target = after_method.substr(0, second_space);
  if (target.empty()) return "two spaces after the method; the request line has one space each";
  for (const char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return "control character " + byte_text(byte) + " in the request target";
    }
  }
  const std::string_view version = after_method.substr(second_space + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7])) {
    return "the request line does not end in 'HTTP/d.d' after a single space";
  }
  head.method = method;
  head.target = target;
  head.major = version[5] - '0';
  head.minor = version[7] - '0';

  for (;;) {
    if (!next_strict_line(raw, line, why)) return why;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      return "a header line starts with a blank (obs-fold line folding is refused)";
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return "a header line has no ':'";
    const std::string_view name = line.substr(0, colon);
    for (const char c : name) {
      if (!is_tchar(static_cast<unsigned char>(c))) {
        return "header name '" + printable(name) + "' is not a token (no blanks before ':')";
      }
    }
    if (name.empty()) return "a header line has an empty name";
    const std::string_view value = trim_blanks(line.substr(colon + 1));
    for (const char c : value) {
      if (!is_field_byte(static_cast<unsigned char>(c))) {
        return "control character " + byte_text(static_cast<unsigned char>(c)) + " in header '" +
               printable(lower(name)) + "'";
      }
    }
    if (head.headers.size() == kMaxRequestHeaders) {
      return "more than " + std::to_string(kMaxRequestHeaders) + " headers";
    }
    head.headers.emplace_back(lower(name), std::string(value));
  }
  if (!raw.empty()) return "bytes after the end of the head";
  return "";
}

// Responses are only reported, so their heads are read leniently: any line end, folded lines
// joined, lines without ':' skipped.
std::string parse_response_head(std::string_view raw, ResponseHead& head) {
  bool first = true;
  while (!raw.empty()) {
    const std::size_t lf = std::min(raw.find('\n'), raw.size());
    std::string_view line = raw.substr(0, lf);
    raw.remove_prefix(std::min(lf + 1, raw.size()));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      continue;
    }
    if (line.empty()) break;
    if ((line.front() == ' ' || line.front() == '\t') && !head.headers.empty()) {
      std::string& value = head.headers.back().second;
      value += ' ';
      value += trim_blanks(line);
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (head.headers.size() == kMaxResponseHeaders) {
      return "more than " + std::to_string(kMaxResponseHeaders) + " headers in a response";
    }
    head.headers.emplace_back(lower(trim_blanks(line.substr(0, colon))),
                              std::string(trim_blanks(line.substr(colon + 1))));
  }
  return "";
}

// Checks the raw bytes of a chunked body against RFC 9112 7.1 exactly, alongside http_parser,
// which (built without strict mode) takes any two bytes after chunk data for CRLF and bare LFs
// for line ends. The proxy forwards the raw bytes, so the server must frame them the same way.

bool ChunkChecker::consume(std::string_view bytes, std::string& why) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    switch (state_) {
      case State::size:
        if (const int digit = hex_digit(c); digit >= 0) {
          if (++digits_ > kMaxChunkSizeDigits) return refuse(why, "a chunk size is too long");
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
          ++line_;
          break;
        }
        if (digits_ == 0) return refuse(why, "a chunk does not start with a hex size");
        if (c == ';') {
          state_ = State::extension;
        } else if (c == '\r') {
          state_ = State::size_lf;
        } else {
          return refuse(why, "byte " + byte_text(c) + " after a chunk size");
        }
        break;
      case State::extension:
        if (++line_ > kMaxChunkLine) return refuse(why, "a chunk extension is too long");
        if (c == '\r') {
          state_ = State::size_lf;
        } else if (!is_field_byte(c)) {
          return refuse(why, "control character " + byte_text(c) + " in a chunk extension");
        }
        break;
      case State::size_lf:
        if (c != '\n') return refuse(why, "a chunk-size line does not end in CRLF");
        state_ = remaining_ == 0 ? State::trailer_start : State::data;
        break;
      case State::data: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size() - i));
        remaining_ -= take;
        i += take - 1;
        if (remaining_ == 0) state_ = State::data_cr;
        break;
      }
      case State::data_cr:
        if (c != '\r') return refuse(why, "chunk data is not followed by CRLF");
        state_ = State::data_lf;
        break;
      case State::data_lf:
        if (c != '\n') return refuse(why, "chunk data is not followed by CRLF");
        state_ = State::size;
        digits_ = 0;
        line_ = 0;
        break;
      case State::trailer_start:
        if (++trailer_bytes_ > kMaxHeadBytes) return refuse(why, "trailers larger than 64 KiB");
        if (c == '\r') {
          state_ = State::final_lf;
        } else if (is_tchar(c)) {
          state_ = State::trailer_name;
        } else {
          return refuse(why, "a trailer line does not start with a field name");
        }
        break;
      case State::trailer_name:
        if (++trailer_bytes_ > kMaxHeadBytes) return refuse(why, "trailers larger than 64 KiB");
        if (c == ':') {
          state_ = State::trailer_value;
        } else if (!is_tchar(c)) {
          return refuse(why, "a trailer name is not a token");
        }
        break;
      case State::trailer_value:
        if (++trailer_bytes_ > kMaxHeadBytes) return refuse(why, "trailers larger than 64 KiB");
        if (c == '\r') {
          state_ = State::trailer_lf;
        } else if (!is_field_byte(c)) {
          return refuse(why, "control character " + byte_text(c) + " in a trailer");
        }
        break;
      case State::trailer_lf:
        if (c != '\n') return refuse(why, "a trailer line does not end in CRLF");
        state_ = State::trailer_start;
        break;
      case State::final_lf:
        if (c != '\n') return refuse(why, "the chunked body does not end in CRLF");
        state_ = State::done;
        break;
      case State::done:
        return refuse(why, "bytes after the last chunk of a chunked body");
    }
  }
  return true;
}

}  // namespace cgfw::http
