// libFuzzer target: the first bytes a client sends on a TLS port -> parse_client_hello.
// Whatever the bytes, it returns one of the four statuses without reading outside them; an
// accepted hello has a well-formed lower-case name and the same answer on exactly its records;
// "need more" is never said of input that already holds the most a ClientHello may take.
#include <cstddef>
#include <cstdint>
#include <span>

#include "proxy/tls/client_hello.h"

namespace {

using namespace cgfw::tls;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const HelloResult result = parse_client_hello(bytes);
  switch (result.status) {
    case HelloStatus::ok: {
      const ClientHello& hello = result.hello;
      check(result.error.empty());
      check(result.record_bytes >= kRecordHeaderBytes + 4 && result.record_bytes <= size);
      check(result.record_bytes <= kMaxHelloInput);
      check(hello.has_sni == !hello.sni.empty());
      check(hello.sni.size() <= 253);
      check(hello.sni.empty() || (hello.sni.front() != '.' && hello.sni.back() != '.'));
      for (const char c : hello.sni) check(is_name_char(c));
      check(hello.record_version >> 8 == 3 && hello.client_version >> 8 == 3);
      for (const auto& protocol : hello.alpn) {
        check(!protocol.empty() && protocol.size() <= 4 * 255);
        for (const char c : protocol) check(c > 0x20 && c < 0x7f);  // escaped, printable
      }
      // The records that hold the hello decide alone, and one byte fewer is not enough.
      const HelloResult exact = parse_client_hello(bytes.first(result.record_bytes));
      check(exact.status == HelloStatus::ok && exact.hello.sni == hello.sni &&
            exact.hello.alpn == hello.alpn && exact.hello.has_ech == hello.has_ech);
      check(parse_client_hello(bytes.first(result.record_bytes - 1)).status ==
            HelloStatus::need_more);
      break;
    }
    case HelloStatus::need_more:
      check(result.bytes_needed >= 1);
      check(size + result.bytes_needed <= kMaxHelloInput);
      // A prefix of a prefix is a prefix.
      check(parse_client_hello(bytes.first(size / 2)).status == HelloStatus::need_more);
      break;
    case HelloStatus::not_tls:
    case HelloStatus::malformed:
      check(!result.error.empty());
      check(!result.hello.has_sni && result.hello.sni.empty());
      break;
  }
  return 0;
}
