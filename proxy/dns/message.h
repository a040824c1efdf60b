// DNS wire format for the DNS proxy: client queries in, upstream answers out, and the few
// responses the proxy writes itself. Every input is hostile: parsers never read out of bounds,
// never throw, do bounded work and return the reason for a refusal as a value. docs/dns.md
// ("Wire parsing") lists what is accepted and refused, and why.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cgfw::dns {

inline constexpr std::size_t kMaxMessageSize = 65535;  // a TCP message's 16-bit length
inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeCname = 5;
inline constexpr std::uint16_t kTypeAaaa = 28;
inline constexpr std::uint16_t kTypeOpt = 41;
inline constexpr std::uint16_t kClassIn = 1;
// More than any real answer holds; bounds the work and memory one message can cost.
inline constexpr std::size_t kMaxRecordsPerSection = 256;
inline constexpr std::size_t kMaxCnameHops = 16;
// The UDP payload size the proxy advertises in its own EDNS0 responses (DNS flag day 2020).
inline constexpr std::uint16_t kEdnsUdpSize = 1232;

enum class Rcode : std::uint8_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
};

struct Question {
  // From a query: lower-case, no trailing dot, [a-z0-9_-] labels joined by '.', "" for the root.
  // From an answer: the escaped presentation form of read_name (proxy/dns/name.h), which equals
  // the query form for every name a query may carry.
  std::string name;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;

  bool operator==(const Question&) const = default;
};

struct QueryInfo {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;  // the header's second 16-bit word, as sent
  Question question;
  bool has_edns = false;
  std::uint16_t edns_udp_size = 512;  // from the OPT record; never below 512 (RFC 6891 6.2.5)
};

enum class QueryError : std::uint8_t {
  truncated,           // shorter than the header, or than the question and records it announces
  too_long,            // more than 65535 bytes
  not_a_query,         // QR=1: a response; answering it could start a loop, so drop it
  bad_opcode,          // not QUERY (NOTIFY, UPDATE, IQUERY, STATUS...)
  question_count,      // QDCOUNT is not 1
  bad_name,            // a byte outside [A-Za-z0-9_-] (NUL, '.', space...), a label type other
                       // than plain length, a pointer, a name over 253 characters
  bad_type,            // QTYPE 0, OPT, TKEY, TSIG, IXFR, AXFR, MAILB or MAILA
  bad_class,           // QCLASS is not IN
  unexpected_records,  // answer or authority records, more than one additional record, or one
                       // that is not OPT (so also a second OPT, or a TSIG)
  bad_edns,            // an OPT not owned by the root, or options that do not fill its data
  trailing_data,       // bytes after the last record
};

// Parses a client's query: a UDP payload, or a TCP message without its 2-byte length. Accepts
// only what the proxy may forward unchanged: one IN question for a host-like name, and at most
// an EDNS0 OPT record besides.
std::variant<QueryInfo, QueryError> parse_query(std::span<const std::uint8_t> message);

// A short reason, for logs and reports ("question name is not a host name").
std::string to_string(QueryError error);

struct ResourceRecord {
  std::string name;  // owner, in read_name's escaped presentation form
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::uint32_t ttl = 0;                // values with the top bit set read as 0 (RFC 2181 8)
  std::vector<std::uint8_t> rdata_raw;  // as on the wire (for A/AAAA, the address bytes)
  std::string target;                   // CNAME only: the decoded target, like `name`
};

struct AnswerInfo {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;       // the header's second 16-bit word, as received
  Rcode rcode = Rcode::noerror;  // the header's 4-bit RCODE; may hold values past `refused`
  bool truncated = false;        // TC: records that did not fit were dropped (see parse_answer)
  Question question;
  std::vector<ResourceRecord> answers;  // the ANSWER section only, in message order
};

enum class AnswerError : std::uint8_t {
  truncated,          // the message ends inside the header, question or a record (TC=0)
  too_long,           // more than 65535 bytes
  not_a_response,     // QR=0
  bad_opcode,         // not QUERY
  question_count,     // QDCOUNT is not 1
  question_mismatch,  // the question differs from the one sent (parse_answer with `expected`)
  bad_name,           // a reserved label type, or a name over 255 bytes
  bad_pointer,        // a compression pointer into the header, past the end, or forward
  compression_loop,   // compression pointers that cycle, or more than 64 in one name
  too_many_records,   // a section count over kMaxRecordsPerSection
  bad_rdata,          // in ANSWER: A not 4 bytes, AAAA not 16, CNAME not exactly one name
};

// Parses an upstream response. Authority and additional records are walked only to check their
// bounds and names, never returned. With TC=1 a message may stop early: the records that fit
// whole are kept and the rest dropped, since the client is expected to retry over TCP.
std::variant<AnswerInfo, AnswerError> parse_answer(std::span<const std::uint8_t> message);

// As above, and refuses with question_mismatch an answer whose question is not `expected`
// (names compared as folded text, so a resolver's 0x20 case changes do not matter).
std::variant<AnswerInfo, AnswerError> parse_answer(std::span<const std::uint8_t> message,
                                                   const Question& expected);

// A short reason, for logs and reports.
std::string to_string(AnswerError error);

struct LearnedAddress {
  int family = 0;                          // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 bytes, the rest zero
  std::uint32_t ttl = 0;  // the smaller of the record's TTL and every CNAME's on the way to it
  std::string owner;      // the name on the chain that holds the record
};

struct ChainResult {
  std::vector<std::string> chain;         // qname first, then each CNAME target in order
  std::vector<LearnedAddress> addresses;  // IN A/AAAA owned by a chain name, duplicates merged
  std::uint32_t min_ttl = 0;  // smallest TTL among the CNAMEs followed and the addresses; 0
                              // when the chain holds no record at all
};

// The addresses `answer` establishes for `qname` (in Question::name form; case is folded). Follows
// the IN CNAME chain that starts at qname, first CNAME per owner in message order, at most
// kMaxCnameHops hops, stopping at a name already on the chain. Records owned by any other name are
// ignored: a resolver may only vouch for the chain it was asked about, so anything else in the
// section is treated as a poisoning attempt. Only a NOERROR answer yields addresses; an A/AAAA
// whose rdata has the wrong size never reaches here (parse_answer refuses it).
ChainResult addresses_for(const AnswerInfo& answer, std::string_view qname);

// A minimal response to `query` carrying `rcode`: the same id and opcode, QR=1, RD copied, RA=1,
// the question echoed byte for byte when the query's first question parses (so a client's 0x20
// case pattern survives), no records, and an OPT record (UDP size kEdnsUdpSize) when the query
// parsed and had EDNS0. Without a readable header only the id is echoed; shorter than 2 bytes
// there is nothing to answer and the result is empty.
std::vector<std::uint8_t> make_error_response(std::span<const std::uint8_t> query, Rcode rcode);

// The message id: 0 when the message is shorter than 2 bytes.
std::uint16_t read_id(std::span<const std::uint8_t> message);

// Overwrites the message id (the proxy gives each upstream query its own and restores the
// client's in the reply); does nothing when the message is shorter than 2 bytes.
void write_id(std::span<std::uint8_t> message, std::uint16_t id);

}  // namespace cgfw::dns
