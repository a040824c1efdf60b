// libFuzzer target: client bytes -> parse_query, then the responses the proxy writes to them.
// Whatever the bytes, parsing returns a query or a reason and never crashes, hangs or leaks; a
// query it accepts is a plain host-name question, and a response written to it parses back as an
// answer to that very question.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proxy/dns/message.h"

namespace {

using namespace cgfw::dns;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool is_query_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> message(data, size);
  const auto parsed = parse_query(message);
  const auto* info = std::get_if<QueryInfo>(&parsed);
  if (info == nullptr) {
    check(!to_string(std::get<QueryError>(parsed)).empty());
  } else {
    check(info->question.name.size() <= 253);
    for (const char c : info->question.name) check(is_query_name_char(c));
    check(info->question.qclass == kClassIn);
    check(info->edns_udp_size >= 512);
  }

  for (const Rcode rcode : {Rcode::noerror, Rcode::formerr, Rcode::servfail, Rcode::nxdomain,
                            Rcode::notimp, Rcode::refused}) {
    const auto response = make_error_response(message, rcode);
    if (size < 2) {
      check(response.empty());
      continue;
    }
    check(read_id(response) == read_id(message));
    const auto answer = parse_answer(response);
    if (info == nullptr) continue;
    const auto matched = parse_answer(response, info->question);
    const auto* got = std::get_if<AnswerInfo>(&matched);
    check(got != nullptr);
    check(got->rcode == rcode && got->id == info->id && got->answers.empty());
    (void)answer;
  }

  std::vector<std::uint8_t> copy(message.begin(), message.end());
  write_id(copy, 0xbeef);
  check(size < 2 ? read_id(copy) == 0 : read_id(copy) == 0xbeef);
  return 0;
}
