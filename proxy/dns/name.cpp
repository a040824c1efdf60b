#include "proxy/dns/name.h"

#include <array>
#include <optional>

namespace cgfw::dns {
namespace {

constexpr std::uint8_t kPointerBits = 0xC0;
constexpr std::uint8_t kOffsetHighBits = 0x3F;

// question: strict host-name labels, no pointers. answer: any label, pointers, escaped text.
// check: as answer, without building the text.
enum class Trust { question, answer, check };

bool is_question_label_byte(std::uint8_t byte) {
  // Underscore is not LDH, but SRV and policy names (_sip._tcp, _dmarc) need it.
  return (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
         (byte >= '0' && byte <= '9') || byte == '-' || byte == '_';
}

char to_lower(std::uint8_t byte) {
  return static_cast<char>(byte >= 'A' && byte <= 'Z' ? byte + ('a' - 'A') : byte);
}

void append_escaped(std::string& text, std::span<const std::uint8_t> label) {
  // Built in a local buffer: one append per label instead of one per byte.
  std::array<char, 4 * kMaxLabelLength> buffer;  // NOLINT: only the written part is read
  std::size_t used = 0;
  for (const std::uint8_t byte : label) {
    if (byte == '.' || byte == '\\') {
      buffer[used++] = '\\';
      buffer[used++] = static_cast<char>(byte);
    } else if (byte < 0x21 || byte > 0x7e) {
      buffer[used++] = '\\';
      buffer[used++] = static_cast<char>('0' + byte / 100);
      buffer[used++] = static_cast<char>('0' + byte / 10 % 10);
      buffer[used++] = static_cast<char>('0' + byte % 10);
    } else {
      buffer[used++] = to_lower(byte);
    }
  }
  text.append(buffer.data(), used);
}

// A pointer that does not go back before the stretch being read is refused either way; this only
// decides whether to call it a loop. It follows pointers anywhere, within the same bounds as a
// real read, and reports a loop when it meets a pointer it has already followed.
bool leads_to_loop(std::span<const std::uint8_t> message, std::size_t pointer_at,
                   std::size_t target) {
  std::array<std::size_t, kMaxPointerJumps + 1> followed{};
  std::size_t followed_count = 0;
  followed[followed_count++] = pointer_at;
  std::size_t pos = target;
  std::size_t wire_length = 1;
  while (pos < message.size()) {
    const std::uint8_t length = message[pos];
    if (length == 0) return false;
    if ((length & kPointerBits) == 0) {
      wire_length += 1 + length;
      if (wire_length > kMaxNameWireLength) return false;
      pos += 1 + length;
      continue;
    }
    if ((length & kPointerBits) != kPointerBits || pos + 1 >= message.size()) return false;
    for (std::size_t i = 0; i < followed_count; ++i)
      if (followed[i] == pos) return true;
    if (followed_count == followed.size()) return true;
    followed[followed_count++] = pos;
    pos = static_cast<std::size_t>(((length & kOffsetHighBits) << 8) | message[pos + 1]);
  }
  return false;
}

// Appends one label in the form `trust` asks for; false when a question label holds a byte a
// host name may not. Every label adds at least one character, so a non-empty text needs a dot.
bool append_label(std::string& text, std::span<const std::uint8_t> label, Trust trust) {
  if (trust == Trust::check) return true;
  if (!text.empty()) text += '.';
  if (trust == Trust::answer) {
    append_escaped(text, label);
    return true;
  }
  for (const std::uint8_t byte : label) {
    if (!is_question_label_byte(byte)) return false;
    text += to_lower(byte);
  }
  return true;
}

// Why the pointer at `pos` to `target` may not be followed, if it may not. Reading started the
// current stretch of labels at `stretch_start`.
std::optional<NameError> refuse_pointer(std::span<const std::uint8_t> message, std::size_t pos,
                                        std::size_t target, std::size_t stretch_start) {
  if (target < kHeaderSize || target >= message.size()) return NameError::bad_pointer;
  if (target < stretch_start) return std::nullopt;
  return leads_to_loop(message, pos, target) ? NameError::compression_loop : NameError::bad_pointer;
}

NameResult read(std::span<const std::uint8_t> message, std::size_t offset, Trust trust) {
  WireName name;
  std::size_t pos = offset;
  // Where the current stretch of labels began: the name's start, then each pointer's target.
  // Every pointer must go before it, so the stretches move strictly backwards and cannot cycle.
  std::size_t stretch_start = offset;
  std::size_t wire_length = 1;  // the root label
  bool jumped = false;
  int jumps = 0;
  while (true) {
    if (pos >= message.size()) return NameError::truncated;
    const std::uint8_t length = message[pos];
    if (length == 0) {
      if (!jumped) name.end = pos + 1;
      return name;
    }
    if ((length & kPointerBits) == 0) {
      if (message.size() - pos - 1 < length) return NameError::truncated;
      wire_length += 1 + length;
      if (wire_length > kMaxNameWireLength) return NameError::too_long;
      if (!append_label(name.text, message.subspan(pos + 1, length), trust))
        return NameError::bad_label;
      pos += 1 + length;
      continue;
    }
    // 0x40 is the extended label type RFC 6891 retired, 0x80 is reserved: neither is a name.
    if ((length & kPointerBits) != kPointerBits) return NameError::bad_label;
    // A question is the first name in a message: a pointer there could only reach the header.
    if (trust == Trust::question) return NameError::bad_pointer;
    if (pos + 1 >= message.size()) return NameError::truncated;
    const auto target =
        static_cast<std::size_t>(((length & kOffsetHighBits) << 8) | message[pos + 1]);
    if (!jumped) {
      name.end = pos + 2;
      jumped = true;
    }
    if (const auto refused = refuse_pointer(message, pos, target, stretch_start)) return *refused;
    if (++jumps > kMaxPointerJumps) return NameError::compression_loop;
    stretch_start = target;
    pos = target;
  }
}

}  // namespace

NameResult read_question_name(std::span<const std::uint8_t> message, std::size_t offset) {
  return read(message, offset, Trust::question);
}

NameResult read_name(std::span<const std::uint8_t> message, std::size_t offset) {
  return read(message, offset, Trust::answer);
}

NameResult check_name(std::span<const std::uint8_t> message, std::size_t offset) {
  return read(message, offset, Trust::check);
}

std::string fold_case(std::string_view text) {
  std::string folded(text);
  for (char& c : folded) c = to_lower(static_cast<std::uint8_t>(c));
  return folded;
}

}  // namespace cgfw::dns
