#include "proxy/dns/message.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace cgfw::dns {
namespace {

constexpr std::uint16_t kRd = 0x0100;
constexpr std::uint16_t kQr = 0x8000;
constexpr std::uint16_t kRa = 0x0080;
constexpr std::uint16_t kTc = 0x0200;
constexpr std::size_t kQuestionOffset = 12;

// Writes DNS messages byte by byte, so tests can also write the malformed ones.
class Wire {
 public:
  Wire& u8(std::uint8_t value) {
    bytes_.push_back(value);
    return *this;
  }
  Wire& u16(std::uint16_t value) { return u8(value >> 8).u8(value & 0xff); }
  Wire& u32(std::uint32_t value) { return u16(value >> 16).u16(value & 0xffff); }
  Wire& raw(std::string_view text) {
    bytes_.insert(bytes_.end(), text.begin(), text.end());
    return *this;
  }
  Wire& raw(const std::vector<std::uint8_t>& data) {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return *this;
  }
  Wire& header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an = 0,
               std::uint16_t ns = 0, std::uint16_t ar = 0) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  // One length-prefixed label holding exactly `text`, which may contain dots or NULs.
  Wire& label(std::string_view text) {
    return u8(static_cast<std::uint8_t>(text.size())).raw(text);
  }
  // Labels split at dots, then the root; "" is the root alone.
  Wire& name(std::string_view dotted) {
    labels(dotted);
    return u8(0);
  }
  Wire& labels(std::string_view dotted) {
    while (!dotted.empty()) {
      const auto dot = dotted.find('.');
      label(dotted.substr(0, dot));
      dotted = dot == std::string_view::npos ? "" : dotted.substr(dot + 1);
    }
    return *this;
  }
  Wire& pointer(std::uint16_t offset) { return u16(0xc000 | offset); }
  Wire& question(std::string_view qname, std::uint16_t qtype, std::uint16_t qclass = kClassIn) {
    return name(qname).u16(qtype).u16(qclass);
  }
  // Type, class, TTL, RDLENGTH and rdata, after an owner name written by the caller.
  Wire& record_tail(std::uint16_t type, std::uint32_t ttl, const std::vector<std::uint8_t>& rdata,
                    std::uint16_t klass = kClassIn) {
    return u16(type).u16(klass).u32(ttl).u16(static_cast<std::uint16_t>(rdata.size())).raw(rdata);
  }
  Wire& a(std::string_view owner, std::uint32_t ttl, std::vector<std::uint8_t> address) {
    return name(owner).record_tail(kTypeA, ttl, address);
  }
  Wire& cname(std::string_view owner, std::uint32_t ttl, std::string_view target) {
    return name(owner).record_tail(kTypeCname, ttl, Wire().name(target).bytes());
  }
  Wire& opt(std::uint16_t udp_size, const std::vector<std::uint8_t>& options = {}) {
    return u8(0).record_tail(kTypeOpt, 0, options, udp_size);
  }
  void set_u16(std::size_t at, std::uint16_t value) {
    bytes_[at] = static_cast<std::uint8_t>(value >> 8);
    bytes_[at + 1] = static_cast<std::uint8_t>(value & 0xff);
  }
  std::size_t size() const { return bytes_.size(); }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

Wire query_for(std::string_view qname, std::uint16_t qtype = kTypeA) {
  return Wire().header(0x1234, kRd, 1).question(qname, qtype);
}

QueryError query_error(const Wire& wire) {
  const auto parsed = parse_query(wire.bytes());
  if (const auto* error = std::get_if<QueryError>(&parsed)) return *error;
  ADD_FAILURE() << "query parsed";
  return QueryError::truncated;
}

QueryInfo query_ok(const Wire& wire) {
  const auto parsed = parse_query(wire.bytes());
  if (const auto* error = std::get_if<QueryError>(&parsed)) {
    ADD_FAILURE() << to_string(*error);
    return {};
  }
  return std::get<QueryInfo>(parsed);
}

AnswerError answer_error(const std::vector<std::uint8_t>& bytes) {
  const auto parsed = parse_answer(bytes);
  if (const auto* error = std::get_if<AnswerError>(&parsed)) return *error;
  ADD_FAILURE() << "answer parsed";
  return AnswerError::truncated;
}

AnswerInfo answer_ok(const std::vector<std::uint8_t>& bytes) {
  const auto parsed = parse_answer(bytes);
  if (const auto* error = std::get_if<AnswerError>(&parsed)) {
    ADD_FAILURE() << to_string(*error);
    return {};
  }
  return std::get<AnswerInfo>(parsed);
}

// An answer header with one question and the given section counts.
Wire answer_for(std::string_view qname, std::uint16_t an, std::uint16_t ns = 0,
                std::uint16_t ar = 0, std::uint16_t qtype = kTypeA) {
  return Wire().header(0x4242, kQr | kRd | kRa, 1, an, ns, ar).question(qname, qtype);
}

std::vector<std::string> owners(const ChainResult& result) {
  std::vector<std::string> out;
  for (const auto& learned : result.addresses) out.push_back(learned.owner);
  return out;
}

// --- queries ---------------------------------------------------------------------------------

TEST(DnsQuery, ParsesAnAQuery) {
  const auto info = query_ok(query_for("www.example.com"));
  EXPECT_EQ(info.id, 0x1234);
  EXPECT_EQ(info.flags, kRd);
  EXPECT_EQ(info.question.name, "www.example.com");
  EXPECT_EQ(info.question.qtype, kTypeA);
  EXPECT_EQ(info.question.qclass, kClassIn);
  EXPECT_FALSE(info.has_edns);
  EXPECT_EQ(info.edns_udp_size, 512);
}

TEST(DnsQuery, ParsesAnAaaaQueryAndAny) {
  EXPECT_EQ(query_ok(query_for("example.com", kTypeAaaa)).question.qtype, kTypeAaaa);
  EXPECT_EQ(query_ok(query_for("example.com", 255)).question.qtype, 255);
}

TEST(DnsQuery, FoldsCase) {
  EXPECT_EQ(query_ok(query_for("WwW.ExAmPle.COM")).question.name, "www.example.com");
}

TEST(DnsQuery, RootIsTheEmptyName) {
  // On the wire a name always ends in the root label: there is no trailing-dot ambiguity.
  EXPECT_EQ(query_ok(query_for("", 2)).question.name, "");
}

TEST(DnsQuery, AcceptsUnderscoreAndHyphenLabels) {
  EXPECT_EQ(query_ok(query_for("_sip._tcp.example.com", 33)).question.name,
            "_sip._tcp.example.com");
  EXPECT_EQ(query_ok(query_for("_dmarc.x-1.example", 16)).question.name, "_dmarc.x-1.example");
}

TEST(DnsQuery, RefusesLabelBytesOutsideLdh) {
  for (const std::string& bad :
       {std::string("a.b"), std::string("a\0b", 3), std::string("a b"), std::string("caf\xc3\xa9"),
        std::string("*"), std::string("a/b")}) {
    Wire wire = Wire().header(1, 0, 1).label(bad).name("example.com").u16(kTypeA).u16(kClassIn);
    EXPECT_EQ(query_error(wire), QueryError::bad_name) << bad;
  }
}

TEST(DnsQuery, LabelOf63IsTheLimit) {
  const std::string label63(63, 'a');
  EXPECT_EQ(query_ok(query_for(label63 + ".com")).question.name, label63 + ".com");
  // 64 does not fit the six length bits: the byte 0x40 is the retired extended label type.
  Wire wire = Wire().header(1, 0, 1).label(std::string(64, 'a')).name("com").u16(1).u16(1);
  EXPECT_EQ(query_error(wire), QueryError::bad_name);
}

TEST(DnsQuery, NameOf253IsTheLimit) {
  // 63+1+63+1+63+1+61 = 253 characters, 255 bytes on the wire.
  const std::string l63(63, 'a');
  const std::string longest = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_EQ(query_ok(query_for(longest)).question.name, longest);
  EXPECT_EQ(query_error(query_for(longest + "b")), QueryError::bad_name);
}

TEST(DnsQuery, RefusesCompressionInTheQuestion) {
  Wire wire = Wire().header(1, 0, 1).label("www").pointer(0).u16(1).u16(1);
  EXPECT_EQ(query_error(wire), QueryError::bad_name);
}

TEST(DnsQuery, RefusesTruncatedHeaderAndQuestion) {
  const auto full = query_for("www.example.com").bytes();
  for (std::size_t size = 0; size < full.size(); ++size) {
    const auto parsed = parse_query(std::span(full).first(size));
    ASSERT_TRUE(std::holds_alternative<QueryError>(parsed)) << size;
    EXPECT_EQ(std::get<QueryError>(parsed), QueryError::truncated) << size;
  }
}

TEST(DnsQuery, RefusesResponsesOtherOpcodesAndQuestionCounts) {
  EXPECT_EQ(query_error(Wire().header(1, kQr, 1).question("a.com", 1)), QueryError::not_a_query);
  EXPECT_EQ(query_error(Wire().header(1, 4 << 11, 1).question("a.com", 1)),  // NOTIFY
            QueryError::bad_opcode);
  EXPECT_EQ(query_error(Wire().header(1, 5 << 11, 1).question("a.com", 1)),  // UPDATE
            QueryError::bad_opcode);
  EXPECT_EQ(query_error(Wire().header(1, 0, 0)), QueryError::question_count);
  EXPECT_EQ(query_error(Wire().header(1, 0, 2).question("a.com", 1).question("b.com", 1)),
            QueryError::question_count);
}

TEST(DnsQuery, RefusesTypesAndClassesNotToForward) {
  for (const std::uint16_t qtype : {0, 41, 249, 250, 251, 252, 253, 254})
    EXPECT_EQ(query_error(query_for("example.com", qtype)), QueryError::bad_type) << qtype;
  EXPECT_EQ(query_error(Wire().header(1, 0, 1).question("version.bind", 16, 3)),
            QueryError::bad_class);
}

TEST(DnsQuery, RefusesRecordsBesidesOneOpt) {
  EXPECT_EQ(query_error(Wire().header(1, 0, 1, 1).question("a.com", 1).a("a.com", 1, {1, 2, 3, 4})),
            QueryError::unexpected_records);
  EXPECT_EQ(
      query_error(Wire().header(1, 0, 1, 0, 1).question("a.com", 1).a("a.com", 1, {1, 2, 3, 4})),
      QueryError::unexpected_records);
  EXPECT_EQ(
      query_error(Wire().header(1, 0, 1, 0, 0, 1).question("a.com", 1).a("a.com", 1, {1, 2, 3, 4})),
      QueryError::unexpected_records);
  EXPECT_EQ(query_error(Wire().header(1, 0, 1, 0, 0, 2).question("a.com", 1).opt(4096).opt(4096)),
            QueryError::unexpected_records);
}

TEST(DnsQuery, ReadsEdnsUdpSize) {
  auto info = query_ok(Wire().header(1, kRd, 1, 0, 0, 1).question("a.com", 1).opt(4096));
  EXPECT_TRUE(info.has_edns);
  EXPECT_EQ(info.edns_udp_size, 4096);
  // RFC 6891: sizes under 512 mean 512.
  info = query_ok(Wire().header(1, kRd, 1, 0, 0, 1).question("a.com", 1).opt(100));
  EXPECT_EQ(info.edns_udp_size, 512);
  // A COOKIE option (code 10, 8 bytes), as dig sends.
  const std::vector<std::uint8_t> cookie = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  info = query_ok(Wire().header(1, kRd, 1, 0, 0, 1).question("a.com", 1).opt(1232, cookie));
  EXPECT_EQ(info.edns_udp_size, 1232);
}

TEST(DnsQuery, RefusesMalformedOpt) {
  const std::vector<std::uint8_t> short_option = {0, 10, 0, 9, 1, 2, 3, 4};
  EXPECT_EQ(
      query_error(Wire().header(1, 0, 1, 0, 0, 1).question("a.com", 1).opt(1232, short_option)),
      QueryError::bad_edns);
  EXPECT_EQ(query_error(Wire()
                            .header(1, 0, 1, 0, 0, 1)
                            .question("a.com", 1)
                            .name("a.com")
                            .record_tail(kTypeOpt, 0, {}, 1232)),
            QueryError::bad_edns);
  Wire cut = Wire().header(1, 0, 1, 0, 0, 1).question("a.com", 1).u8(0).u16(kTypeOpt).u16(1232);
  EXPECT_EQ(query_error(cut), QueryError::truncated);
}

TEST(DnsQuery, RefusesTrailingBytesAndHugeMessages) {
  EXPECT_EQ(query_error(query_for("a.com").u8(0)), QueryError::trailing_data);
  std::vector<std::uint8_t> huge = query_for("a.com").bytes();
  huge.resize(kMaxMessageSize + 1);
  EXPECT_EQ(std::get<QueryError>(parse_query(huge)), QueryError::too_long);
}

TEST(DnsQuery, EveryErrorHasAReason) {
  for (int i = 0; i <= static_cast<int>(QueryError::trailing_data); ++i)
    EXPECT_FALSE(to_string(static_cast<QueryError>(i)).empty());
  for (int i = 0; i <= static_cast<int>(AnswerError::bad_rdata); ++i)
    EXPECT_FALSE(to_string(static_cast<AnswerError>(i)).empty());
}

// --- answers ---------------------------------------------------------------------------------

TEST(DnsAnswer, ParsesACompressedAAnswer) {
  // What resolvers send: owner names point back at the question.
  Wire wire = answer_for("www.example.com", 1);
  wire.pointer(kQuestionOffset).record_tail(kTypeA, 300, {93, 184, 216, 34});
  const auto info = answer_ok(wire.bytes());
  EXPECT_EQ(info.id, 0x4242);
  EXPECT_EQ(info.rcode, Rcode::noerror);
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info.question, (Question{"www.example.com", kTypeA, kClassIn}));
  ASSERT_EQ(info.answers.size(), 1u);
  EXPECT_EQ(info.answers[0].name, "www.example.com");
  EXPECT_EQ(info.answers[0].ttl, 300u);
  EXPECT_EQ(info.answers[0].rdata_raw, (std::vector<std::uint8_t>{93, 184, 216, 34}));

  const auto result = addresses_for(info, "www.example.com");
  EXPECT_EQ(result.chain, std::vector<std::string>{"www.example.com"});
  ASSERT_EQ(result.addresses.size(), 1u);
  EXPECT_EQ(result.addresses[0].family, AF_INET);
  EXPECT_EQ(result.addresses[0].address[0], 93);
  EXPECT_EQ(result.addresses[0].address[3], 34);
  EXPECT_EQ(result.addresses[0].address[4], 0);
  EXPECT_EQ(result.addresses[0].ttl, 300u);
  EXPECT_EQ(result.min_ttl, 300u);
}

TEST(DnsAnswer, ParsesAaaa) {
  std::vector<std::uint8_t> v6(16, 0);
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[15] = 1;
  Wire wire = answer_for("example.com", 1, 0, 0, kTypeAaaa);
  wire.name("EXAMPLE.com").record_tail(kTypeAaaa, 60, v6);
  const auto result = addresses_for(answer_ok(wire.bytes()), "example.com");
  ASSERT_EQ(result.addresses.size(), 1u);
  EXPECT_EQ(result.addresses[0].family, AF_INET6);
  EXPECT_EQ(result.addresses[0].address[15], 1);
  EXPECT_EQ(result.addresses[0].owner, "example.com");
}

TEST(DnsAnswer, FollowsACnameChainInOrder) {
  Wire wire = answer_for("www.example.com", 3);
  wire.cname("www.example.com", 300, "a.cdn.net").cname("a.cdn.net", 60, "b.cdn.net");
  wire.a("b.cdn.net", 120, {192, 0, 2, 1});
  const auto result = addresses_for(answer_ok(wire.bytes()), "www.example.com");
  EXPECT_EQ(result.chain, (std::vector<std::string>{"www.example.com", "a.cdn.net", "b.cdn.net"}));
  ASSERT_EQ(result.addresses.size(), 1u);
  EXPECT_EQ(result.addresses[0].owner, "b.cdn.net");
  EXPECT_EQ(result.addresses[0].ttl, 60u) << "the shortest link bounds the binding";
  EXPECT_EQ(result.min_ttl, 60u);
}

TEST(DnsAnswer, FollowsACnameChainOutOfOrderWithCompression) {
  Wire wire = answer_for("www.example.com", 3);
  const std::size_t b_at = wire.size();
  wire.a("b.cdn.net", 30, {192, 0, 2, 2});
  // a.cdn.net -> b.cdn.net, both compressed: "a" + pointer to "cdn.net" inside b's owner.
  wire.label("a").pointer(static_cast<std::uint16_t>(b_at + 2));
  wire.record_tail(kTypeCname, 300, Wire().pointer(static_cast<std::uint16_t>(b_at)).bytes());
  wire.pointer(kQuestionOffset)
      .record_tail(kTypeCname, 20,
                   Wire().label("A").pointer(static_cast<std::uint16_t>(b_at + 2)).bytes());
  const auto info = answer_ok(wire.bytes());
  ASSERT_EQ(info.answers.size(), 3u);
  EXPECT_EQ(info.answers[1].target, "b.cdn.net");
  const auto result = addresses_for(info, "www.example.com");
  EXPECT_EQ(result.chain, (std::vector<std::string>{"www.example.com", "a.cdn.net", "b.cdn.net"}));
  ASSERT_EQ(result.addresses.size(), 1u);
  EXPECT_EQ(result.addresses[0].ttl, 20u);
  EXPECT_EQ(result.min_ttl, 20u);
}

TEST(DnsAnswer, StopsACnameLoop) {
  Wire wire = answer_for("www.example.com", 3);
  wire.cname("www.example.com", 300, "a.example.com")
      .cname("a.example.com", 300, "WWW.example.com");
  wire.a("a.example.com", 300, {192, 0, 2, 3});
  const auto result = addresses_for(answer_ok(wire.bytes()), "www.example.com");
  EXPECT_EQ(result.chain, (std::vector<std::string>{"www.example.com", "a.example.com"}));
  EXPECT_EQ(owners(result), std::vector<std::string>{"a.example.com"});
}

TEST(DnsAnswer, FollowsAtMostSixteenHops) {
  Wire wire = answer_for("c0.example", 19);
  for (int i = 0; i < 17; ++i)
    wire.cname("c" + std::to_string(i) + ".example", 300, "c" + std::to_string(i + 1) + ".example");
  wire.a("c16.example", 300, {192, 0, 2, 16}).a("c17.example", 300, {192, 0, 2, 17});
  const auto result = addresses_for(answer_ok(wire.bytes()), "c0.example");
  ASSERT_EQ(result.chain.size(), kMaxCnameHops + 1);
  EXPECT_EQ(result.chain.back(), "c16.example");
  EXPECT_EQ(owners(result), std::vector<std::string>{"c16.example"});
}

TEST(DnsAnswer, IgnoresRecordsForOtherOwners) {
  Wire wire = answer_for("www.example.com", 3);
  wire.a("evil.example.net", 300, {203, 0, 113, 66}).a("www.example.com", 300, {192, 0, 2, 4});
  wire.cname("evil.example.net", 300, "www.example.com");  // a chain that ends at qname: no use
  const auto result = addresses_for(answer_ok(wire.bytes()), "www.example.com");
  EXPECT_EQ(result.chain, std::vector<std::string>{"www.example.com"});
  ASSERT_EQ(result.addresses.size(), 1u);
  EXPECT_EQ(result.addresses[0].address[0], 192);
}

TEST(DnsAnswer, IgnoresAuthorityAndAdditional) {
  Wire wire = answer_for("www.example.com", 0, 1, 1);
  wire.a("www.example.com", 300, {203, 0, 113, 1}).a("www.example.com", 300, {203, 0, 113, 2});
  const auto info = answer_ok(wire.bytes());
  EXPECT_TRUE(info.answers.empty());
  EXPECT_TRUE(addresses_for(info, "www.example.com").addresses.empty());
  EXPECT_EQ(addresses_for(info, "www.example.com").min_ttl, 0u);
}

TEST(DnsAnswer, LabelWithADotIsNotTwoLabels) {
  Wire wire = answer_for("www.example.com", 3);
  wire.label("www.example").label("com").u8(0).record_tail(kTypeA, 300, {203, 0, 113, 3});
  wire.label(std::string("www\0", 4))
      .name("example.com")
      .record_tail(kTypeA, 300, {203, 0, 113, 4});
  wire.label("www\\").name("example.com").record_tail(kTypeA, 300, {203, 0, 113, 5});
  const auto info = answer_ok(wire.bytes());
  EXPECT_EQ(info.answers[0].name, "www\\.example.com");
  EXPECT_EQ(info.answers[1].name, "www\\000.example.com");
  EXPECT_EQ(info.answers[2].name, "www\\\\.example.com");
  EXPECT_TRUE(addresses_for(info, "www.example.com").addresses.empty());
}

TEST(DnsAnswer, LearnsNothingFromAnErrorRcode) {
  Wire wire = Wire().header(7, kQr | 3, 1, 2).question("www.example.com", kTypeA);
  wire.cname("www.example.com", 300, "gone.example.com").a("gone.example.com", 300, {192, 0, 2, 9});
  const auto info = answer_ok(wire.bytes());
  EXPECT_EQ(info.rcode, Rcode::nxdomain);
  const auto result = addresses_for(info, "www.example.com");
  EXPECT_EQ(result.chain.size(), 2u);
  EXPECT_TRUE(result.addresses.empty());
}

TEST(DnsAnswer, MergesDuplicatesAndSkipsOtherClasses) {
  Wire wire = answer_for("x.example", 3);
  wire.a("x.example", 300, {192, 0, 2, 1}).a("x.example", 50, {192, 0, 2, 1});
  wire.name("x.example").record_tail(kTypeA, 300, {1, 2, 3, 4, 5}, 3);  // CHAOS A: not IN, kept
  const auto result = addresses_for(answer_ok(wire.bytes()), "x.example");
  ASSERT_EQ(result.addresses.size(), 1u);
  EXPECT_EQ(result.addresses[0].ttl, 50u);
}

TEST(DnsAnswer, TtlWithTheTopBitSetIsZero) {
  Wire wire = answer_for("x.example", 1);
  wire.a("x.example", 0x80000000u, {192, 0, 2, 1});
  EXPECT_EQ(answer_ok(wire.bytes()).answers[0].ttl, 0u);
}

TEST(DnsAnswer, RefusesCompressionLoops) {
  Wire self = answer_for("x.example", 1);
  self.pointer(static_cast<std::uint16_t>(self.size())).record_tail(kTypeA, 1, {1, 2, 3, 4});
  EXPECT_EQ(answer_error(self.bytes()), AnswerError::compression_loop);

  // Owner at p points forward to q, which points back to p.
  Wire pair = answer_for("x.example", 1);
  const auto p = static_cast<std::uint16_t>(pair.size());
  pair.pointer(static_cast<std::uint16_t>(p + 2 + 10)).record_tail(kTypeA, 1, {});
  pair.set_u16(p + 2 + 8, 2);
  pair.pointer(p);
  EXPECT_EQ(answer_error(pair.bytes()), AnswerError::compression_loop);

  Wire label_loop = answer_for("x.example", 1);
  const auto start = static_cast<std::uint16_t>(label_loop.size());
  label_loop.label("a").pointer(start).record_tail(kTypeA, 1, {1, 2, 3, 4});
  EXPECT_EQ(answer_error(label_loop.bytes()), AnswerError::compression_loop);
}

TEST(DnsAnswer, RefusesPointersThatAreNotToAnEarlierName) {
  Wire forward = answer_for("x.example", 1);
  const auto at = forward.size();
  forward.pointer(static_cast<std::uint16_t>(at + 2 + 10))
      .record_tail(kTypeCname, 1, Wire().name("y.example").bytes());
  EXPECT_EQ(answer_error(forward.bytes()), AnswerError::bad_pointer);

  Wire past_end = answer_for("x.example", 1);
  past_end.pointer(0x3fff).record_tail(kTypeA, 1, {1, 2, 3, 4});
  EXPECT_EQ(answer_error(past_end.bytes()), AnswerError::bad_pointer);

  Wire into_header = answer_for("x.example", 1);
  into_header.pointer(2).record_tail(kTypeA, 1, {1, 2, 3, 4});
  EXPECT_EQ(answer_error(into_header.bytes()), AnswerError::bad_pointer);
}

TEST(DnsAnswer, RefusesOverlongAndReservedNames) {
  // Three 63-byte labels, then a pointer to a 63-byte label: 256 bytes + root.
  Wire wire = answer_for(std::string(63, 'q') + ".example", 1);
  const std::string l63(63, 'a');
  wire.labels(l63 + "." + l63 + "." + l63)
      .pointer(kQuestionOffset)
      .record_tail(kTypeA, 1, {1, 2, 3, 4});
  EXPECT_EQ(answer_error(wire.bytes()), AnswerError::bad_name);

  Wire reserved = answer_for("x.example", 1);
  reserved.u8(0x80).u8(0).record_tail(kTypeA, 1, {1, 2, 3, 4});
  EXPECT_EQ(answer_error(reserved.bytes()), AnswerError::bad_name);
}

TEST(DnsAnswer, RefusesMalformedRdata) {
  EXPECT_EQ(answer_error(answer_for("x.example", 1).a("x.example", 1, {1, 2, 3, 4, 5}).bytes()),
            AnswerError::bad_rdata);
  EXPECT_EQ(answer_error(answer_for("x.example", 1)
                             .name("x.example")
                             .record_tail(kTypeAaaa, 1, {1, 2, 3, 4})
                             .bytes()),
            AnswerError::bad_rdata);
  auto target = Wire().name("y.example").u8(0).bytes();  // a stray byte after the name
  EXPECT_EQ(
      answer_error(
          answer_for("x.example", 1).name("x.example").record_tail(kTypeCname, 1, target).bytes()),
      AnswerError::bad_rdata);
}

TEST(DnsAnswer, RefusesRdlengthPastTheEnd) {
  Wire wire = answer_for("x.example", 2).a("x.example", 1, {1, 2, 3, 4});
  wire.name("x.example").u16(kTypeA).u16(kClassIn).u32(1).u16(200).raw({1, 2, 3, 4});
  EXPECT_EQ(answer_error(wire.bytes()), AnswerError::truncated);

  // With TC=1 the records that arrived whole are kept.
  wire.set_u16(2, kQr | kTc);
  const auto info = answer_ok(wire.bytes());
  EXPECT_TRUE(info.truncated);
  EXPECT_EQ(info.answers.size(), 1u);
}

TEST(DnsAnswer, RefusesHeaderProblems) {
  EXPECT_EQ(answer_error(query_for("x.example").bytes()), AnswerError::not_a_response);
  EXPECT_EQ(answer_error(Wire().header(1, kQr | (2 << 11), 1).question("x.example", 1).bytes()),
            AnswerError::bad_opcode);
  EXPECT_EQ(answer_error(Wire().header(1, kQr | 1, 0).bytes()), AnswerError::question_count);
  EXPECT_EQ(answer_error(Wire().header(1, kQr, 1, 257).question("x.example", 1).bytes()),
            AnswerError::too_many_records);
  EXPECT_EQ(answer_error(Wire().header(1, kQr, 1).bytes()), AnswerError::truncated);
  EXPECT_EQ(answer_error({0x12, 0x34, 0x80}), AnswerError::truncated);
  std::vector<std::uint8_t> huge(kMaxMessageSize + 1, 0);
  EXPECT_EQ(answer_error(huge), AnswerError::too_long);
}

TEST(DnsAnswer, ChecksTheQuestionWhenGiven) {
  const auto bytes = Wire().header(1, kQr, 1).question("WWW.Example.com", kTypeA).bytes();
  const Question asked{"www.example.com", kTypeA, kClassIn};
  EXPECT_TRUE(std::holds_alternative<AnswerInfo>(parse_answer(bytes, asked)));
  for (const Question& other :
       {Question{"www.example.org", kTypeA, kClassIn},
        Question{"www.example.com", kTypeAaaa, kClassIn}, Question{"www.example.com", kTypeA, 3}}) {
    const auto parsed = parse_answer(bytes, other);
    ASSERT_TRUE(std::holds_alternative<AnswerError>(parsed));
    EXPECT_EQ(std::get<AnswerError>(parsed), AnswerError::question_mismatch);
  }
}

// --- responses written by the proxy --------------------------------------------------------

TEST(DnsErrorResponse, RoundTripsThroughParseAnswer) {
  const auto query = query_for("WwW.example.com").bytes();
  for (const Rcode rcode : {Rcode::nxdomain, Rcode::refused, Rcode::servfail, Rcode::formerr}) {
    const auto response = make_error_response(query, rcode);
    const auto parsed = parse_answer(response, Question{"www.example.com", kTypeA, kClassIn});
    ASSERT_TRUE(std::holds_alternative<AnswerInfo>(parsed));
    const auto& info = std::get<AnswerInfo>(parsed);
    EXPECT_EQ(info.id, 0x1234);
    EXPECT_EQ(info.rcode, rcode);
    EXPECT_EQ(info.flags & (kRd | kRa | kQr), kRd | kRa | kQr);
    EXPECT_TRUE(info.answers.empty());
    // The question is echoed byte for byte, case included.
    EXPECT_TRUE(std::equal(query.begin() + 12, query.end(), response.begin() + 12));
    EXPECT_EQ(response.size(), query.size());
  }
}

TEST(DnsErrorResponse, AddsOptWhenTheQueryHadEdns) {
  const auto query = Wire().header(9, 0, 1, 0, 0, 1).question("a.com", 1).opt(4096).bytes();
  const auto response = make_error_response(query, Rcode::refused);
  const auto info = answer_ok(response);
  EXPECT_EQ(info.rcode, Rcode::refused);
  EXPECT_EQ(info.flags & kRd, 0);
  const auto expected_tail = Wire().opt(kEdnsUdpSize).bytes();
  ASSERT_GE(response.size(), expected_tail.size());
  EXPECT_TRUE(std::equal(expected_tail.begin(), expected_tail.end(),
                         response.end() - static_cast<std::ptrdiff_t>(expected_tail.size())));
  EXPECT_EQ(response[11], 1);
}

TEST(DnsErrorResponse, EchoesOnlyTheIdForAnUnreadableQuery) {
  EXPECT_TRUE(make_error_response(std::vector<std::uint8_t>{0x12}, Rcode::formerr).empty());
  const auto response =
      make_error_response(std::vector<std::uint8_t>{0xab, 0xcd, 0x01}, Rcode::formerr);
  EXPECT_EQ(response, (std::vector<std::uint8_t>{0xab, 0xcd, 0x80, 0x81, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(answer_error(response), AnswerError::question_count);

  // A question that does not parse is not echoed.
  Wire bad = Wire().header(5, kRd, 1).label(std::string("a\0", 2)).name("com").u16(1).u16(1);
  const auto no_question = make_error_response(bad.bytes(), Rcode::formerr);
  EXPECT_EQ(no_question.size(), 12u);
  EXPECT_EQ(no_question[5], 0);
}

TEST(DnsErrorResponse, EchoesTheQuestionAndOpcodeOfARefusedQuery) {
  Wire notify = Wire().header(5, 4 << 11, 1).question("a.com", 6);
  auto response = make_error_response(notify.bytes(), Rcode::notimp);
  EXPECT_EQ(response.size(), notify.size());
  EXPECT_EQ(response[2], 0x80 | (4 << 3));
  EXPECT_EQ(response[3], 0x80 | 4);
  response = make_error_response(query_for("a.com", 252).bytes(), Rcode::refused);
  EXPECT_EQ(std::get<AnswerInfo>(parse_answer(response)).question.qtype, 252);
}

TEST(DnsId, ReadsAndWrites) {
  auto bytes = query_for("a.com").bytes();
  EXPECT_EQ(read_id(bytes), 0x1234);
  write_id(bytes, 0xbeef);
  EXPECT_EQ(read_id(bytes), 0xbeef);
  EXPECT_EQ(bytes[0], 0xbe);
  std::vector<std::uint8_t> one = {7};
  EXPECT_EQ(read_id(one), 0);
  write_id(one, 0xffff);
  EXPECT_EQ(one, std::vector<std::uint8_t>{7});
}

}  // namespace
}  // namespace cgfw::dns
