// libFuzzer target: upstream bytes -> parse_answer -> addresses_for. Whatever the bytes, parsing
// returns an answer or a reason and never crashes, hangs or leaks, and the chain walk only ever
// learns addresses owned by names on the CNAME chain that starts at the name asked for.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "proxy/dns/message.h"

namespace {

using namespace cgfw::dns;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

void check_chain(const AnswerInfo& info, const std::string& qname) {
  const ChainResult result = addresses_for(info, qname);
  check(!result.chain.empty() && result.chain.size() <= kMaxCnameHops + 1);
  check(info.rcode == Rcode::noerror || result.addresses.empty());
  for (const auto& learned : result.addresses) {
    check(std::find(result.chain.begin(), result.chain.end(), learned.owner) != result.chain.end());
    check(learned.ttl <= 0x7fffffffU && result.min_ttl <= learned.ttl);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> message(data, size);
  const auto parsed = parse_answer(message);
  const auto* info = std::get_if<AnswerInfo>(&parsed);
  if (info == nullptr) {
    check(!to_string(std::get<AnswerError>(parsed)).empty());
    return 0;
  }
  check(info->answers.size() <= kMaxRecordsPerSection);
  check(std::holds_alternative<AnswerInfo>(parse_answer(message, info->question)));
  check_chain(*info, info->question.name);
  // Start the walk from other names too, so chains that do not begin at the question get tried.
  for (std::size_t i = 0; i < info->answers.size() && i < 8; ++i)
    check_chain(*info, info->answers[i].name);
  return 0;
}
