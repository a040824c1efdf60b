// DNS names and fixed-width fields on the wire. Internal to proxy/dns: the proxy uses message.h.
// Two readers, because the two directions deserve different trust: a client's question must be a
// plain host name, while an upstream answer may use compression and any byte in a label.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace cgfw::dns {

inline constexpr std::size_t kHeaderSize = 12;
// RFC 1035 3.1: a name is at most 255 bytes on the wire, length bytes and root label included.
inline constexpr std::size_t kMaxNameWireLength = 255;
inline constexpr std::size_t kMaxLabelLength = 63;
// No honest encoder needs more than a few; the cap bounds the work a hostile name can cause.
inline constexpr int kMaxPointerJumps = 64;

enum class NameError : std::uint8_t {
  truncated,         // the name runs past the end of the message
  bad_label,         // reserved label type (0x40, 0x80), or a byte a question may not hold
  too_long,          // more than 255 bytes on the wire (253 characters as text)
  bad_pointer,       // compression where none is allowed, or a pointer that is not to an
                     // earlier name: into the header, past the end, or forward
  compression_loop,  // pointers that lead back to themselves, or more than kMaxPointerJumps
};

struct WireName {
  std::string text;     // see read_question_name / read_name for the form
  std::size_t end = 0;  // offset just past the name where it starts (after its first pointer)
};

using NameResult = std::variant<WireName, NameError>;

// Reads a question name at `offset`: uncompressed labels of [A-Za-z0-9_-] only. The text is
// lower-case, labels joined by '.', no trailing dot, "" for the root.
NameResult read_question_name(std::span<const std::uint8_t> message, std::size_t offset);

// Reads any name at `offset`, following compression pointers that go strictly backwards (each
// pointer before the start of the stretch being read, which makes loops impossible). Labels may
// hold any byte, so the text is the unambiguous presentation form: A-Z folded to a-z, '.' and
// '\' escaped as "\." and "\\", bytes outside 0x21..0x7e as "\DDD". A label holding a dot can
// then never read as two labels, and a plain host name reads exactly as read_question_name would.
NameResult read_name(std::span<const std::uint8_t> message, std::size_t offset);

// As read_name, without building the text (WireName::text stays empty): for names that are only
// walked to find where the next field starts.
NameResult check_name(std::span<const std::uint8_t> message, std::size_t offset);

// ASCII-only lower-casing: DNS compares names case-insensitively in ASCII only (RFC 4343).
std::string fold_case(std::string_view text);

// Big-endian loads; the caller has checked that the bytes exist.
inline std::uint16_t load_u16(std::span<const std::uint8_t> message, std::size_t offset) {
  return static_cast<std::uint16_t>((message[offset] << 8) | message[offset + 1]);
}

inline std::uint32_t load_u32(std::span<const std::uint8_t> message, std::size_t offset) {
  return (std::uint32_t{load_u16(message, offset)} << 16) | load_u16(message, offset + 2);
}

}  // namespace cgfw::dns
