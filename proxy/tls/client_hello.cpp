#include "proxy/tls/client_hello.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cstdio>
#include <optional>
#include <string_view>

namespace cgfw::tls {
namespace {

constexpr std::uint8_t kHandshakeRecord = 0x16;
constexpr std::uint8_t kClientHelloType = 1;
constexpr std::size_t kMaxRecordPayload = 16384;  // 2^14, RFC 8446 5.1
constexpr std::size_t kRandomBytes = 32;
constexpr std::size_t kMaxSessionId = 32;
constexpr std::size_t kMaxWireName = 255;
constexpr std::size_t kMaxHostName = 253;
constexpr std::size_t kMaxLabel = 63;
constexpr std::uint16_t kServerNameExtension = 0;
constexpr std::uint16_t kAlpnExtension = 16;
constexpr std::uint16_t kEchExtension = 0xfe0d;
constexpr std::uint8_t kHostNameType = 0;

std::string hex8(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", value & 0xffU);
  return text;
}

std::string hex16(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%04x", value & 0xffffU);
  return text;
}

// Bounds-checked big-endian reads; a failed read leaves the reader where it was.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}

  std::size_t remaining() const { return data_.size() - pos_; }

  bool u8(std::uint8_t& value) {
    if (remaining() < 1) return false;
    value = data_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& value) {
    if (remaining() < 2) return false;
    value = static_cast<std::uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool bytes(std::size_t count, std::span<const std::uint8_t>& out) {
    if (remaining() < count) return false;
    out = data_.subspan(pos_, count);
    pos_ += count;
    return true;
  }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

// The checks are syntactic: letters, digits, '-', '_' (seen on real hosts; the policy refuses
// it later) and '.', labels of 1-63 bytes. Anything a resolver or a rule could read differently
// from the name as sent (NUL, '/', blanks, '%', ':') makes the whole hello malformed.
bool read_host_name(std::span<const std::uint8_t> raw, std::string& name, std::string& why) {
  if (raw.empty()) {
    why = "the server name is empty";
    return false;
  }
  if (raw.size() > kMaxWireName) {
    why = "the server name is " + std::to_string(raw.size()) + " bytes long; the limit is 255";
    return false;
  }
  std::string text(raw.begin(), raw.end());
  if (text.back() == '.') text.pop_back();
  if (text.empty()) {
    why = "the server name is only a dot";
    return false;
  }
  if (text.size() > kMaxHostName) {
    why = "the server name is " + std::to_string(text.size()) + " bytes long; the limit is 253";
    return false;
  }
  std::size_t label = 0;
  for (char& c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '.') {
      if (label == 0) {
        why = "the server name has an empty label";
        return false;
      }
      label = 0;
      continue;
    }
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!allowed) {
      why = "byte " + hex8(byte) + " is not allowed in a server name";
      return false;
    }
    if (++label > kMaxLabel) {
      why = "a label of the server name is longer than 63 bytes";
      return false;
    }
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  if (label == 0) {
    why = "the server name has an empty label";
    return false;
  }
  name = std::move(text);
  return true;
}

// RFC 6066 3: ServerNameList. Exactly one host_name; entries of other (undefined) types are
// skipped, as long as their lengths add up.
bool read_server_name(std::span<const std::uint8_t> data, ClientHello& hello, std::string& why) {
  Reader reader(data);
  std::uint16_t list_length = 0;
  if (!reader.u16(list_length) || list_length != reader.remaining() || list_length == 0) {
    why = "the server_name list length does not match the extension";
    return false;
  }
  while (reader.remaining() > 0) {
    std::uint8_t type = 0;
    std::uint16_t length = 0;
    std::span<const std::uint8_t> raw;
    if (!reader.u8(type) || !reader.u16(length) || !reader.bytes(length, raw)) {
      why = "a server_name entry runs past the end of the extension";
      return false;
    }
    if (type != kHostNameType) continue;
    if (hello.has_sni) {
      why = "two host_name entries in server_name";
      return false;
    }
    if (!read_host_name(raw, hello.sni, why)) return false;
    hello.has_sni = true;
  }
  if (!hello.has_sni) {
    why = "the server_name extension holds no host_name";
    return false;
  }
  return true;
}

// RFC 7301 3.1: a non-empty list of non-empty protocol names.
bool read_alpn(std::span<const std::uint8_t> data, ClientHello& hello, std::string& why) {
  Reader reader(data);
  std::uint16_t list_length = 0;
  if (!reader.u16(list_length) || list_length != reader.remaining() || list_length == 0) {
    why = "the ALPN list length does not match the extension";
    return false;
  }
  while (reader.remaining() > 0) {
    std::uint8_t length = 0;
    std::span<const std::uint8_t> name;
    if (!reader.u8(length) || length == 0 || !reader.bytes(length, name)) {
      why = "an ALPN protocol name is empty or runs past the end of the extension";
      return false;
    }
    // Names are registered ASCII tokens ("h2"), but GREASE and hostile clients send any byte;
    // those are escaped so the names can go into logs and JSON as they are.
    std::string text;
    for (const std::uint8_t byte : name) {
      if (byte > 0x20 && byte < 0x7f && byte != '\\') {
        text += static_cast<char>(byte);
      } else {
        text += "\\x" + hex8(byte).substr(2);
      }
    }
    hello.alpn.push_back(std::move(text));
  }
  return true;
}

// The ClientHello body (after the 4-byte handshake header), RFC 8446 4.1.2.
bool read_body(std::span<const std::uint8_t> body, ClientHello& hello, std::string& why) {
  Reader reader(body);
  std::span<const std::uint8_t> skipped;
  std::uint8_t session_id_length = 0;
  std::uint16_t suites_length = 0;
  std::uint8_t compression_length = 0;
  if (!reader.u16(hello.client_version)) {
    why = "the ClientHello ends inside its version";
    return false;
  }
  if (hello.client_version >> 8 != 3) {
    why = "ClientHello version " + hex16(hello.client_version) + " is not TLS (0x03xx)";
    return false;
  }
  if (!reader.bytes(kRandomBytes, skipped) || !reader.u8(session_id_length) ||
      session_id_length > kMaxSessionId || !reader.bytes(session_id_length, skipped)) {
    why = "the ClientHello random or session id is truncated or too long";
    return false;
  }
  if (!reader.u16(suites_length) || suites_length == 0 || suites_length % 2 != 0 ||
      !reader.bytes(suites_length, skipped)) {
    why = "the cipher suite list is empty, odd or truncated";
    return false;
  }
  if (!reader.u8(compression_length) || compression_length == 0 ||
      !reader.bytes(compression_length, skipped)) {
    why = "the compression method list is empty or truncated";
    return false;
  }
  if (reader.remaining() == 0) return true;  // a client without extensions (pre-TLS 1.2 style)

  std::uint16_t extensions_length = 0;
  if (!reader.u16(extensions_length) || extensions_length != reader.remaining()) {
    why = "the extensions length does not match the rest of the ClientHello";
    return false;
  }
  std::bitset<65536> seen;  // 8 KiB: a linear search would be quadratic in the extension count
  while (reader.remaining() > 0) {
    std::uint16_t type = 0;
    std::uint16_t length = 0;
    std::span<const std::uint8_t> data;
    if (!reader.u16(type) || !reader.u16(length) || !reader.bytes(length, data)) {
      why = "an extension runs past the end of the ClientHello";
      return false;
    }
    if (seen.test(type)) {
      why = "extension " + hex16(type) + " appears twice";
      return false;
    }
    seen.set(type);
    if (type == kServerNameExtension && !read_server_name(data, hello, why)) return false;
    if (type == kAlpnExtension && !read_alpn(data, hello, why)) return false;
    if (type == kEchExtension) hello.has_ech = true;
  }
  return true;
}

HelloResult fail(HelloStatus status, std::string why) {
  HelloResult result;
  result.status = status;
  result.error = std::move(why);
  return result;
}

HelloResult need(std::size_t bytes) {
  HelloResult result;
  result.status = HelloStatus::need_more;
  result.bytes_needed = std::max<std::size_t>(bytes, 1);
  return result;
}

}  // namespace

const char* to_string(HelloStatus status) {
  switch (status) {
    case HelloStatus::need_more:
      return "need_more";
    case HelloStatus::ok:
      return "ok";
    case HelloStatus::not_tls:
      return "not_tls";
    case HelloStatus::malformed:
      return "malformed";
  }
  return "unknown";
}

HelloResult parse_client_hello(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return need(kRecordHeaderBytes);
  if (bytes[0] != kHandshakeRecord) {
    const std::uint8_t first = bytes[0];
    std::string why = "the first byte " + hex8(first) + " is not a TLS handshake record (0x16)";
    if (first & 0x80) why += "; an SSLv2-style hello?";
    if ((first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z')) {
      why += "; plain text such as HTTP?";
    }
    return fail(HelloStatus::not_tls, std::move(why));
  }
  if (bytes.size() >= 2 && bytes[1] != 0x03) {
    return fail(HelloStatus::not_tls, "record version " +
                                          hex16(bytes[1] << 8 | (bytes.size() > 2 ? bytes[2] : 0)) +
                                          " is not TLS (0x03xx)");
  }

  // First pass: walk the record headers without copying, so a caller that re-reads a growing
  // buffer does O(records) work per call until the message is complete.
  std::uint16_t record_version = 0;
  std::size_t pos = 0;
  std::size_t records = 0;
  std::size_t payload_total = 0;
  std::array<std::uint8_t, 4> header{};
  std::size_t header_have = 0;
  std::optional<std::size_t> message_size;
  for (;;) {
    const std::size_t left = bytes.size() - pos;
    if (left < kRecordHeaderBytes) {
      if (records > 0 && left >= 1 && bytes[pos] != kHandshakeRecord) {
        return fail(HelloStatus::malformed, "a record of content type " + hex8(bytes[pos]) +
                                                " arrived before the ClientHello was complete");
      }
      if (records > 0 && left >= 2 && bytes[pos + 1] != 0x03) {
        return fail(HelloStatus::malformed,
                    "a later record is not TLS (version byte " + hex8(bytes[pos + 1]) + ")");
      }
      return need(kRecordHeaderBytes - left);
    }
    const std::uint8_t type = bytes[pos];
    const auto version = static_cast<std::uint16_t>(bytes[pos + 1] << 8 | bytes[pos + 2]);
    const std::size_t length = static_cast<std::size_t>(bytes[pos + 3]) << 8 | bytes[pos + 4];
    if (type != kHandshakeRecord) {
      return fail(HelloStatus::malformed, "a record of content type " + hex8(type) +
                                              " arrived before the ClientHello was complete");
    }
    if (version >> 8 != 3) {
      return fail(HelloStatus::malformed,
                  "a later record has version " + hex16(version) + ", not TLS (0x03xx)");
    }
    if (records == 0) record_version = version;
    if (length == 0) return fail(HelloStatus::malformed, "an empty handshake record");
    if (length > kMaxRecordPayload) {
      return fail(HelloStatus::malformed, "a record of " + std::to_string(length) +
                                              " bytes; TLS records hold at most 16384");
    }
    if (++records > kMaxHelloRecords) {
      return fail(HelloStatus::malformed, "the ClientHello is split into more than " +
                                              std::to_string(kMaxHelloRecords) + " records");
    }
    const std::size_t available = std::min(length, left - kRecordHeaderBytes);
    for (std::size_t i = 0; i < available && header_have < header.size(); ++i) {
      header[header_have++] = bytes[pos + kRecordHeaderBytes + i];
    }
    if (header_have == header.size() && !message_size) {
      if (header[0] != kClientHelloType) {
        return fail(HelloStatus::malformed,
                    "handshake message type " + hex8(header[0]) + " is not a ClientHello (0x01)");
      }
      const std::size_t body = static_cast<std::size_t>(header[1]) << 16 |
                               static_cast<std::size_t>(header[2]) << 8 | header[3];
      if (body + header.size() > kMaxHelloBytes) {
        return fail(HelloStatus::malformed,
                    "a ClientHello of " + std::to_string(body) + " bytes; the limit is 16 KiB");
      }
      message_size = body + header.size();
    }
    // Records end exactly where the hello ends, so a caller never buffers more than
    // kMaxHelloInput bytes before getting an answer.
    if (message_size && payload_total + length > *message_size) {
      return fail(HelloStatus::malformed,
                  std::to_string(payload_total + length - *message_size) +
                      " bytes follow the ClientHello in the record that ends it");
    }
    if (available < length) return need(length - available);
    payload_total += length;
    pos += kRecordHeaderBytes + length;
    if (message_size && payload_total >= *message_size) break;
  }
  // Second pass: the message is complete; gather it once and read it.
  std::vector<std::uint8_t> message;
  message.reserve(*message_size);
  for (std::size_t at = 0; at < pos;) {
    const std::size_t length = static_cast<std::size_t>(bytes[at + 3]) << 8 | bytes[at + 4];
    const auto payload = bytes.subspan(at + kRecordHeaderBytes, length);
    message.insert(message.end(), payload.begin(), payload.end());
    at += kRecordHeaderBytes + length;
  }
  HelloResult result;
  result.hello.record_version = record_version;
  if (!read_body(std::span<const std::uint8_t>(message).subspan(header.size()), result.hello,
                 result.error)) {
    result.status = HelloStatus::malformed;
    result.hello = ClientHello{};
    return result;
  }
  result.status = HelloStatus::ok;
  result.record_bytes = pos;
  return result;
}

}  // namespace cgfw::tls
