// The strict HTTP/1.1 syntax the streams require on top of http_parser. The installed
// http_parser is built without strict mode: it takes bare LFs for line ends, folded header lines,
// "Name :" and any two bytes after chunk data for CRLF. The proxy forwards the client's bytes
// unchanged, so each such leniency is a place where the server could frame a request differently
// from the proxy and run a request nobody checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/request_stream.h"

namespace cgfw::http {

// RFC 9110 5.6.2 tchar: the bytes of methods and header names.
bool is_tchar(unsigned char c);

// Client text for a reason or a log line: printable ASCII as is, any other byte as "\xNN", cut to
// `limit` bytes of input (then "..."). Reasons end up in JSON reports, which need valid UTF-8.
std::string printable(std::string_view text, std::size_t limit = 64);

// Reads a complete request head exactly as received: "METHOD SP target SP HTTP/d.d CRLF", then
// "name: value CRLF" lines (no obs-fold, no blank before ':', no control characters but HTAB in
// values, at most kMaxRequestHeaders), then CRLF. Fills method, target, version and headers.
// Returns "" or why the head is refused.
std::string parse_request_head(std::string_view raw, RequestHead& head);

// Reads a response head leniently (servers are not the adversary of the report): any line end,
// folded lines joined, lines without ':' skipped. Fills headers; "" or why (too many headers).
std::string parse_response_head(std::string_view raw, ResponseHead& head);

// Follows the raw bytes of a chunked body (RFC 9112 7.1) exactly: hex size (at most 16 digits),
// optional ";extensions" without control characters, CRLF, data, CRLF, ..., "0" CRLF, trailer
// lines (at most kMaxHeadBytes), CRLF.
class ChunkChecker {
 public:
  void reset() { *this = ChunkChecker(); }
  bool done() const { return state_ == State::done; }

  // Consumes the next body bytes; false and why on a framing error, and on any byte after the
  // body's end.
  bool consume(std::string_view bytes, std::string& why);

 private:
  enum class State {
    size,
    extension,
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer_start,
    trailer_name,
    trailer_value,
    trailer_lf,
    final_lf,
    done,
  };
  State state_ = State::size;
  std::uint64_t remaining_ = 0;  // chunk size, then data bytes still to come
  std::size_t digits_ = 0;
  std::size_t line_ = 0;  // bytes of the current chunk-size line
  std::size_t trailer_bytes_ = 0;
};

}  // namespace cgfw::http
