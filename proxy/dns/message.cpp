#include "proxy/dns/message.h"

#include "proxy/dns/name.h"

namespace cgfw::dns {
namespace {

constexpr std::uint16_t kFlagResponse = 0x8000;
constexpr std::uint16_t kFlagRecursionDesired = 0x0100;
constexpr std::uint16_t kFlagRecursionAvailable = 0x0080;
constexpr std::uint16_t kOpcodeMask = 0x7800;
constexpr std::uint16_t kRcodeMask = 0x000f;
constexpr std::size_t kQuestionFixedSize = 4;  // QTYPE, QCLASS
constexpr std::size_t kRecordFixedSize = 10;   // TYPE, CLASS, TTL, RDLENGTH
constexpr std::size_t kEdnsOptionHeaderSize = 4;

// Types that are no question for a recursive resolver: 0 is reserved, OPT and TSIG are
// pseudo-records, TKEY negotiates keys with one server, IXFR and AXFR are zone transfers (which a
// datagram proxy cannot carry), MAILB and MAILA are obsolete.
bool is_refused_qtype(std::uint16_t qtype) {
  return qtype == 0 || qtype == kTypeOpt || (qtype >= 249 && qtype <= 254);
}

// An EDNS0 option list must be exactly a sequence of (code, length, data): anything else is a
// malformed OPT that a resolver would reject too.
bool options_fill(std::span<const std::uint8_t> options) {
  std::size_t pos = 0;
  while (pos < options.size()) {
    if (options.size() - pos < kEdnsOptionHeaderSize) return false;
    const std::size_t length = load_u16(options, pos + 2);
    pos += kEdnsOptionHeaderSize;
    if (options.size() - pos < length) return false;
    pos += length;
  }
  return true;
}

// Reads the single additional record of a query at `pos`, which must be an OPT; returns the
// offset after it, or the reason it is refused.
std::variant<std::size_t, QueryError> read_opt(std::span<const std::uint8_t> message,
                                               std::size_t pos, QueryInfo& info) {
  const NameResult owner = read_name(message, pos);
  if (const auto* error = std::get_if<NameError>(&owner))
    return *error == NameError::truncated ? QueryError::truncated : QueryError::bad_edns;
  const auto& name = std::get<WireName>(owner);
  pos = name.end;
  if (message.size() - pos < kRecordFixedSize) return QueryError::truncated;
  const std::uint16_t type = load_u16(message, pos);
  if (type != kTypeOpt) return QueryError::unexpected_records;
  if (!name.text.empty()) return QueryError::bad_edns;
  const std::uint16_t udp_size = load_u16(message, pos + 2);
  const std::size_t rdlength = load_u16(message, pos + 8);
  pos += kRecordFixedSize;
  if (message.size() - pos < rdlength) return QueryError::truncated;
  if (!options_fill(message.subspan(pos, rdlength))) return QueryError::bad_edns;
  info.has_edns = true;
  info.edns_udp_size = udp_size < 512 ? 512 : udp_size;
  return pos + rdlength;
}

void append_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

void store_u16(std::vector<std::uint8_t>& out, std::size_t offset, std::uint16_t value) {
  out[offset] = static_cast<std::uint8_t>(value >> 8);
  out[offset + 1] = static_cast<std::uint8_t>(value & 0xff);
}

}  // namespace

std::variant<QueryInfo, QueryError> parse_query(std::span<const std::uint8_t> message) {
  if (message.size() > kMaxMessageSize) return QueryError::too_long;
  if (message.size() < kHeaderSize) return QueryError::truncated;
  QueryInfo info;
  info.id = load_u16(message, 0);
  info.flags = load_u16(message, 2);
  if ((info.flags & kFlagResponse) != 0) return QueryError::not_a_query;
  if ((info.flags & kOpcodeMask) != 0) return QueryError::bad_opcode;
  if (load_u16(message, 4) != 1) return QueryError::question_count;
  // Anything besides the question and an OPT would be forwarded unread: refuse it.
  if (load_u16(message, 6) != 0 || load_u16(message, 8) != 0 || load_u16(message, 10) > 1)
    return QueryError::unexpected_records;
  const std::uint16_t additional = load_u16(message, 10);

  const NameResult name = read_question_name(message, kHeaderSize);
  if (const auto* error = std::get_if<NameError>(&name))
    return *error == NameError::truncated ? QueryError::truncated : QueryError::bad_name;
  std::size_t pos = std::get<WireName>(name).end;
  if (message.size() - pos < kQuestionFixedSize) return QueryError::truncated;
  info.question.name = std::get<WireName>(name).text;
  info.question.qtype = load_u16(message, pos);
  info.question.qclass = load_u16(message, pos + 2);
  pos += kQuestionFixedSize;
  if (is_refused_qtype(info.question.qtype)) return QueryError::bad_type;
  if (info.question.qclass != kClassIn) return QueryError::bad_class;

  if (additional == 1) {
    const auto after = read_opt(message, pos, info);
    if (const auto* error = std::get_if<QueryError>(&after)) return *error;
    pos = std::get<std::size_t>(after);
  }
  if (pos != message.size()) return QueryError::trailing_data;
  return info;
}

std::string to_string(QueryError error) {
  switch (error) {
    case QueryError::truncated:
      return "query is truncated";
    case QueryError::too_long:
      return "query is longer than 65535 bytes";
    case QueryError::not_a_query:
      return "message is a response, not a query";
    case QueryError::bad_opcode:
      return "opcode is not QUERY";
    case QueryError::question_count:
      return "query does not hold exactly one question";
    case QueryError::bad_name:
      return "question name is not a host name";
    case QueryError::bad_type:
      return "question type cannot be asked through the proxy";
    case QueryError::bad_class:
      return "question class is not IN";
    case QueryError::unexpected_records:
      return "query carries records other than one EDNS0 OPT";
    case QueryError::bad_edns:
      return "EDNS0 OPT record is malformed";
    case QueryError::trailing_data:
      return "query has bytes after its last record";
  }
  return "unknown query error";
}

std::vector<std::uint8_t> make_error_response(std::span<const std::uint8_t> query, Rcode rcode) {
  if (query.size() < 2) return {};
  std::vector<std::uint8_t> out(kHeaderSize, 0);
  out[0] = query[0];
  out[1] = query[1];
  auto flags = static_cast<std::uint16_t>(kFlagResponse | kFlagRecursionAvailable |
                                          (static_cast<std::uint16_t>(rcode) & kRcodeMask));
  if (query.size() < kHeaderSize) {
    store_u16(out, 2, flags);
    return out;
  }
  const std::uint16_t query_flags = load_u16(query, 2);
  flags |= query_flags & (kOpcodeMask | kFlagRecursionDesired);
  store_u16(out, 2, flags);

  if (load_u16(query, 4) >= 1) {
    const NameResult name = read_question_name(query, kHeaderSize);
    if (const auto* read = std::get_if<WireName>(&name);
        read != nullptr && query.size() - read->end >= kQuestionFixedSize) {
      // Copied rather than re-encoded: the client may check its own 0x20 case pattern.
      out.insert(out.end(), query.begin() + kHeaderSize,
                 query.begin() + static_cast<std::ptrdiff_t>(read->end + kQuestionFixedSize));
      store_u16(out, 4, 1);
    }
  }
  const auto parsed = parse_query(query);
  if (const auto* info = std::get_if<QueryInfo>(&parsed); info != nullptr && info->has_edns) {
    out.push_back(0);  // root owner
    append_u16(out, kTypeOpt);
    append_u16(out, kEdnsUdpSize);
    append_u16(out, 0);  // extended rcode, version 0
    append_u16(out, 0);  // flags
    append_u16(out, 0);  // no options
    store_u16(out, 10, 1);
  }
  return out;
}

std::uint16_t read_id(std::span<const std::uint8_t> message) {
  return message.size() < 2 ? 0 : load_u16(message, 0);
}

void write_id(std::span<std::uint8_t> message, std::uint16_t id) {
  if (message.size() < 2) return;
  message[0] = static_cast<std::uint8_t>(id >> 8);
  message[1] = static_cast<std::uint8_t>(id & 0xff);
}

}  // namespace cgfw::dns
