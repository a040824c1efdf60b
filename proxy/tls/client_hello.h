// Reading the TLS ClientHello a sandboxed client sent, before anything reaches a server: the
// proxy decides on the server name (SNI). The bytes are hostile; see docs/http.md "ClientHello".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cgfw::tls {

// The ClientHello handshake message (4-byte header included) may be at most this long, spread
// over at most kMaxHelloRecords records; a caller buffering the first bytes needs at most
// kMaxHelloInput of them.
constexpr std::size_t kMaxHelloBytes = 16 * 1024;
constexpr std::size_t kMaxHelloRecords = 64;
constexpr std::size_t kRecordHeaderBytes = 5;
constexpr std::size_t kMaxHelloInput = kMaxHelloBytes + kRecordHeaderBytes * kMaxHelloRecords;

enum class HelloStatus {
  need_more,  // a prefix of a plausible ClientHello: read more and call again with all bytes
  ok,
  not_tls,    // the first record is not a TLS handshake record (HTTP, SSLv2, anything else)
  malformed,  // TLS, but inconsistent or not a ClientHello; `error` says what
};

struct ClientHello {
  std::string sni;  // lower-case host_name, one trailing dot stripped; "" if none
  bool has_sni = false;
  std::vector<std::string> alpn;     // protocol names in order ("h2", "http/1.1"); bytes other
                                     // than printable ASCII (GREASE) escaped as "\xNN"
  std::uint16_t record_version = 0;  // of the first record (0x0301 from most clients)
  std::uint16_t client_version = 0;  // legacy_version in the ClientHello (0x0303 for TLS 1.3)
  bool has_ech = false;              // encrypted_client_hello (0xfe0d): the SNI is the outer one
};

struct HelloResult {
  HelloStatus status = HelloStatus::need_more;
  ClientHello hello;
  std::string error;             // why, for malformed and not_tls
  std::size_t bytes_needed = 0;  // need_more: at least this many more bytes are needed
  std::size_t record_bytes = 0;  // ok: bytes of `bytes` the records holding the hello took
};

// Reads the ClientHello from the first bytes a client sent (peeked or buffered), which may be
// split over several TLS records and TCP segments: need_more until the handshake message is
// complete. Never reads outside `bytes`, never throws, does O(records) work until the message is
// complete and copies it once then. Bytes after the record that ends the hello are ignored.
HelloResult parse_client_hello(std::span<const std::uint8_t> bytes);

// "ok", "need_more", "not_tls", "malformed".
const char* to_string(HelloStatus status);

}  // namespace cgfw::tls
