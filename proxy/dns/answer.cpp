// Upstream answers: parse_answer and the CNAME chain walk that decides which addresses to learn.
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>

#include "proxy/dns/message.h"
#include "proxy/dns/name.h"

namespace cgfw::dns {
namespace {

constexpr std::uint16_t kFlagResponse = 0x8000;
constexpr std::uint16_t kFlagTruncated = 0x0200;
constexpr std::uint16_t kOpcodeMask = 0x7800;
constexpr std::uint16_t kRcodeMask = 0x000f;
constexpr std::size_t kQuestionFixedSize = 4;
constexpr std::size_t kRecordFixedSize = 10;
constexpr std::uint32_t kMaxTtl = 0x7fffffff;
constexpr std::size_t kIpv4Size = 4;
constexpr std::size_t kIpv6Size = 16;

AnswerError from_name_error(NameError error) {
  switch (error) {
    case NameError::truncated:
      return AnswerError::truncated;
    case NameError::bad_pointer:
      return AnswerError::bad_pointer;
    case NameError::compression_loop:
      return AnswerError::compression_loop;
    case NameError::bad_label:
    case NameError::too_long:
      return AnswerError::bad_name;
  }
  return AnswerError::bad_name;
}

// Checks the rdata of an ANSWER record the chain walk may use and decodes a CNAME target.
std::optional<AnswerError> check_rdata(std::span<const std::uint8_t> message, std::size_t pos,
                                       std::size_t rdlength, ResourceRecord& record) {
  if (record.klass == kClassIn && record.type == kTypeA && rdlength != kIpv4Size)
    return AnswerError::bad_rdata;
  if (record.klass == kClassIn && record.type == kTypeAaaa && rdlength != kIpv6Size)
    return AnswerError::bad_rdata;
  if (record.type != kTypeCname) return std::nullopt;
  // The target may point anywhere earlier, but its own bytes must fill the rdata exactly.
  NameResult target = read_name(message, pos);
  if (const auto* error = std::get_if<NameError>(&target))
    return *error == NameError::truncated ? AnswerError::bad_rdata : from_name_error(*error);
  auto& name = std::get<WireName>(target);
  if (name.end != pos + rdlength) return AnswerError::bad_rdata;
  record.target = std::move(name.text);
  return std::nullopt;
}

// Reads the record at `pos` and moves `pos` past it. `keep` (ANSWER) also checks and returns
// its contents; the other sections are only walked.
std::optional<AnswerError> read_record(std::span<const std::uint8_t> message, std::size_t& pos,
                                       bool keep, ResourceRecord& record) {
  NameResult owner = keep ? read_name(message, pos) : check_name(message, pos);
  if (const auto* error = std::get_if<NameError>(&owner)) return from_name_error(*error);
  std::size_t at = std::get<WireName>(owner).end;
  if (message.size() - at < kRecordFixedSize) return AnswerError::truncated;
  const std::size_t rdlength = load_u16(message, at + 8);
  if (message.size() - at - kRecordFixedSize < rdlength) return AnswerError::truncated;
  if (keep) {
    record.name = std::move(std::get<WireName>(owner).text);
    record.type = load_u16(message, at);
    record.klass = load_u16(message, at + 2);
    const std::uint32_t ttl = load_u32(message, at + 4);
    record.ttl = ttl > kMaxTtl ? 0 : ttl;
    const auto rdata = message.subspan(at + kRecordFixedSize, rdlength);
    record.rdata_raw.assign(rdata.begin(), rdata.end());
    if (auto error = check_rdata(message, at + kRecordFixedSize, rdlength, record)) return error;
  }
  pos = at + kRecordFixedSize + rdlength;
  return std::nullopt;
}

std::optional<std::size_t> chain_index(const std::vector<std::string>& chain,
                                       const std::string& name) {
  const auto found = std::find(chain.begin(), chain.end(), name);
  if (found == chain.end()) return std::nullopt;
  return static_cast<std::size_t>(found - chain.begin());
}

void merge_address(std::vector<LearnedAddress>& addresses, LearnedAddress learned) {
  for (auto& existing : addresses) {
    if (existing.family == learned.family && existing.address == learned.address) {
      existing.ttl = std::min(existing.ttl, learned.ttl);
      return;
    }
  }
  addresses.push_back(std::move(learned));
}

}  // namespace

std::variant<AnswerInfo, AnswerError> parse_answer(std::span<const std::uint8_t> message) {
  if (message.size() > kMaxMessageSize) return AnswerError::too_long;
  if (message.size() < kHeaderSize) return AnswerError::truncated;
  AnswerInfo info;
  info.id = load_u16(message, 0);
  info.flags = load_u16(message, 2);
  if ((info.flags & kFlagResponse) == 0) return AnswerError::not_a_response;
  if ((info.flags & kOpcodeMask) != 0) return AnswerError::bad_opcode;
  info.rcode = static_cast<Rcode>(info.flags & kRcodeMask);
  info.truncated = (info.flags & kFlagTruncated) != 0;
  if (load_u16(message, 4) != 1) return AnswerError::question_count;
  const std::array<std::size_t, 3> counts = {load_u16(message, 6), load_u16(message, 8),
                                             load_u16(message, 10)};
  for (const std::size_t count : counts)
    if (count > kMaxRecordsPerSection) return AnswerError::too_many_records;

  NameResult name = read_name(message, kHeaderSize);
  if (const auto* error = std::get_if<NameError>(&name)) return from_name_error(*error);
  std::size_t pos = std::get<WireName>(name).end;
  if (message.size() - pos < kQuestionFixedSize) return AnswerError::truncated;
  info.question.name = std::move(std::get<WireName>(name).text);
  info.question.qtype = load_u16(message, pos);
  info.question.qclass = load_u16(message, pos + 2);
  pos += kQuestionFixedSize;

  info.answers.reserve(counts[0]);
  for (std::size_t section = 0; section < 3; ++section) {
    const bool keep = section == 0;
    for (std::size_t i = 0; i < counts[section]; ++i) {
      ResourceRecord record;
      if (auto error = read_record(message, pos, keep, record)) {
        // A truncated (TC) message may stop anywhere: keep what arrived whole.
        if (*error == AnswerError::truncated && info.truncated) return info;
        return *error;
      }
      if (keep) info.answers.push_back(std::move(record));
    }
  }
  return info;
}

std::variant<AnswerInfo, AnswerError> parse_answer(std::span<const std::uint8_t> message,
                                                   const Question& expected) {
  auto parsed = parse_answer(message);
  if (const auto* info = std::get_if<AnswerInfo>(&parsed)) {
    const Question& got = info->question;
    if (got.name != fold_case(expected.name) || got.qtype != expected.qtype ||
        got.qclass != expected.qclass)
      return AnswerError::question_mismatch;
  }
  return parsed;
}

std::string to_string(AnswerError error) {
  switch (error) {
    case AnswerError::truncated:
      return "answer is truncated";
    case AnswerError::too_long:
      return "answer is longer than 65535 bytes";
    case AnswerError::not_a_response:
      return "message is a query, not a response";
    case AnswerError::bad_opcode:
      return "opcode is not QUERY";
    case AnswerError::question_count:
      return "answer does not hold exactly one question";
    case AnswerError::question_mismatch:
      return "answer is for another question";
    case AnswerError::bad_name:
      return "answer holds a malformed name";
    case AnswerError::bad_pointer:
      return "answer holds a compression pointer that is not to an earlier name";
    case AnswerError::compression_loop:
      return "answer holds a compression loop";
    case AnswerError::too_many_records:
      return "answer has more than 256 records in a section";
    case AnswerError::bad_rdata:
      return "answer holds an A, AAAA or CNAME record with malformed data";
  }
  return "unknown answer error";
}

ChainResult addresses_for(const AnswerInfo& answer, std::string_view qname) {
  ChainResult result;
  result.chain.push_back(fold_case(qname));
  // ttl_to[i]: the smallest CNAME TTL on the way from qname to chain[i].
  std::vector<std::uint32_t> ttl_to{std::numeric_limits<std::uint32_t>::max()};
  std::uint32_t min_ttl = std::numeric_limits<std::uint32_t>::max();
  bool any_record = false;

  while (result.chain.size() <= kMaxCnameHops) {
    const auto cname = std::find_if(
        answer.answers.begin(), answer.answers.end(), [&](const ResourceRecord& record) {
          return record.type == kTypeCname && record.klass == kClassIn &&
                 record.name == result.chain.back();
        });
    if (cname == answer.answers.end() || chain_index(result.chain, cname->target)) break;
    result.chain.push_back(cname->target);
    ttl_to.push_back(std::min(ttl_to.back(), cname->ttl));
    min_ttl = std::min(min_ttl, cname->ttl);
    any_record = true;
  }

  if (answer.rcode == Rcode::noerror) {
    for (const auto& record : answer.answers) {
      if (record.klass != kClassIn) continue;
      LearnedAddress learned;
      if (record.type == kTypeA && record.rdata_raw.size() == kIpv4Size) {
        learned.family = AF_INET;
      } else if (record.type == kTypeAaaa && record.rdata_raw.size() == kIpv6Size) {
        learned.family = AF_INET6;
      } else {
        continue;
      }
      const auto index = chain_index(result.chain, record.name);
      if (!index) continue;
      std::copy(record.rdata_raw.begin(), record.rdata_raw.end(), learned.address.begin());
      learned.ttl = std::min(record.ttl, ttl_to[*index]);
      learned.owner = record.name;
      min_ttl = std::min(min_ttl, learned.ttl);
      any_record = true;
      merge_address(result.addresses, std::move(learned));
    }
  }
  result.min_ttl = any_record ? min_ttl : 0;
  return result;
}

}  // namespace cgfw::dns
