#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "policy/parser.h"
#include "proxy/http/request_check.h"
#include "proxy/http/request_stream.h"

namespace cgfw::http {
namespace {

using Kind = StreamEvent::Kind;

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// What a proxy would see and forward, fed in pieces of `chunk` bytes (0: all at once).
struct Transcript {
  std::vector<RequestHead> heads;
  std::vector<std::uint64_t> body_bytes;  // per message_end
  std::string forwarded;                  // raw heads and body slices, in order
  std::string decoded;                    // the bodies without chunk framing
  std::string error;
  std::size_t errors = 0;
};

Transcript run(std::string_view input, std::size_t chunk = 0, RequestStream* reuse = nullptr) {
  RequestStream own;
  RequestStream& stream = reuse ? *reuse : own;
  Transcript transcript;
  std::vector<StreamEvent> events;
  bool open = false;  // between a head and its message_end
  const std::size_t step = chunk == 0 ? std::max<std::size_t>(input.size(), 1) : chunk;
  for (std::size_t at = 0; at < input.size(); at += step) {
    const std::string_view piece = input.substr(at, step);
    events.clear();
    stream.feed(bytes_of(piece), events);
    for (const StreamEvent& event : events) {
      switch (event.kind) {
        case Kind::head:
          EXPECT_FALSE(open) << "a head before the previous message ended";
          open = true;
          transcript.heads.push_back(event.head);
          transcript.forwarded += event.raw_head;
          break;
        case Kind::body:
          EXPECT_LE(event.offset + event.length, piece.size());
          transcript.forwarded += piece.substr(event.offset, event.length);
          for (const auto& [offset, length] : event.data) {
            EXPECT_GE(offset, event.offset);
            EXPECT_LE(offset + length, event.offset + event.length);
            transcript.decoded += piece.substr(offset, length);
          }
          break;
        case Kind::message_end:
          EXPECT_LE(event.offset, piece.size());
          transcript.body_bytes.push_back(event.body_bytes);
          open = false;
          break;
        case Kind::error:
          transcript.error = event.error;
          ++transcript.errors;
          break;
      }
    }
    if (!transcript.error.empty()) break;
  }
  return transcript;
}

std::string error_of(std::string_view input) { return run(input).error; }

std::string header(const RequestHead& head, const std::string& name) {
  for (const auto& [field, value] : head.headers) {
    if (field == name) return value;
  }
  return "<none>";
}

const std::string kThreeRequests =
    "GET /one?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n"
    "POST /two HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    "\r\n"  // an empty line between requests is allowed (and dropped)
    "PUT /three HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\nConnection: close\r\n\r\n"
    "data";

void expect_three(const Transcript& t, const std::string& label) {
  SCOPED_TRACE(label);
  EXPECT_EQ(t.error, "");
  ASSERT_EQ(t.heads.size(), 3u);
  ASSERT_EQ(t.body_bytes.size(), 3u);
  EXPECT_EQ(t.heads[0].method, "GET");
  EXPECT_EQ(t.heads[0].target, "/one?x=1");
  EXPECT_EQ(header(t.heads[0], "user-agent"), "test");
  EXPECT_TRUE(t.heads[0].keep_alive);
  EXPECT_EQ(t.heads[1].method, "POST");
  EXPECT_TRUE(t.heads[1].chunked);
  EXPECT_FALSE(t.heads[1].content_length);
  EXPECT_EQ(t.heads[2].content_length, 4u);
  EXPECT_FALSE(t.heads[2].keep_alive);
  EXPECT_EQ(t.body_bytes, (std::vector<std::uint64_t>{0, 11, 4}));
  std::string without_empty_line = kThreeRequests;
  without_empty_line.erase(without_empty_line.find("\r\n\r\n\r\nPUT") + 4, 2);
  EXPECT_EQ(t.forwarded, without_empty_line);
  EXPECT_EQ(t.decoded, "hello worlddata");
}

TEST(RequestStream, KeepAliveThreeRequests) {
  expect_three(run(kThreeRequests), "all at once");
  expect_three(run(kThreeRequests, 1), "one byte at a time");
  expect_three(run(kThreeRequests, 7), "seven bytes at a time");
  for (std::size_t cut = 1; cut < kThreeRequests.size(); ++cut) {
    RequestStream stream;
    Transcript first = run(std::string_view(kThreeRequests).substr(0, cut), 0, &stream);
    Transcript second = run(std::string_view(kThreeRequests).substr(cut), 0, &stream);
    first.heads.insert(first.heads.end(), second.heads.begin(), second.heads.end());
    first.body_bytes.insert(first.body_bytes.end(), second.body_bytes.begin(),
                            second.body_bytes.end());
    first.forwarded += second.forwarded;
    first.decoded += second.decoded;
    first.error += second.error;
    expect_three(first, "cut at " + std::to_string(cut));
  }
}

TEST(RequestStream, HeadComesBeforeItsBody) {
  RequestStream stream;
  std::vector<StreamEvent> events;
  stream.feed(bytes_of("POST /x HTTP/1.1\r\nHost: a.example\r\nContent-"), events);
  EXPECT_TRUE(events.empty());
  stream.feed(bytes_of("Length: 10\r\n\r\n01234"), events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::head);
  EXPECT_EQ(events[0].raw_head,
            "POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 10\r\n\r\n");
  EXPECT_EQ(events[1].kind, Kind::body);
  EXPECT_EQ(events[1].offset, 14u);
  EXPECT_EQ(events[1].length, 5u);
  events.clear();
  stream.feed(bytes_of("56789GET"), events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::body);
  EXPECT_EQ(events[0].length, 5u);
  EXPECT_EQ(events[1].kind, Kind::message_end);
  EXPECT_EQ(events[1].offset, 5u);
  EXPECT_EQ(events[1].body_bytes, 10u);
  EXPECT_EQ(stream.messages(), 1u);
}

TEST(RequestStream, HeadLimits) {
  const std::string start = "GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  const std::string exact =
      start + std::string(kMaxHeadBytes - start.size() - end.size(), 'p') + end;
  ASSERT_EQ(exact.size(), kMaxHeadBytes);
  EXPECT_EQ(run(exact).error, "");
  EXPECT_EQ(run(exact).heads.size(), 1u);
  const std::string over =
      start + std::string(kMaxHeadBytes - start.size() - end.size() + 1, 'p') + end;
  EXPECT_NE(run(over).error.find("64 KiB"), std::string::npos);
  EXPECT_NE(run(over, 1000).error.find("64 KiB"), std::string::npos);
  EXPECT_NE(run(start + std::string(200000, 'p')).error.find("64 KiB"), std::string::npos);

  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(run(many + "\r\n").error, "");
  EXPECT_NE(run(many + "X-101: v\r\n\r\n").error.find("more than 100 headers"), std::string::npos);
}

TEST(RequestStream, ErrorsRepeat) {
  RequestStream stream;
  std::vector<StreamEvent> events;
  stream.feed(bytes_of("GET / HTTP/1.1\nHost: a\n\n"), events);
  ASSERT_EQ(events.size(), 1u);
  ASSERT_EQ(events[0].kind, Kind::error);
  const std::string first = events[0].error;
  EXPECT_TRUE(stream.failed());
  for (int i = 0; i < 3; ++i) {
    events.clear();
    stream.feed(bytes_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), events);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, Kind::error);
    EXPECT_EQ(events[0].error, first);
  }
}

TEST(RequestStream, SmugglingAndLenientSyntaxAreErrors) {
  const std::string post = "POST / HTTP/1.1\r\nHost: a.example\r\n";
  EXPECT_NE(error_of(post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                .find("smuggling"),
            std::string::npos);
  EXPECT_NE(
      error_of(post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n").find("smuggling"),
      std::string::npos);
  EXPECT_NE(
      error_of(post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello").find("smuggling"),
      std::string::npos);
  EXPECT_NE(error_of(post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), "");
  EXPECT_NE(error_of(post + "Content-Length: 1 2\r\n\r\n"), "");
  EXPECT_NE(error_of(post + "Content-Length: +5\r\n\r\n"), "");
  EXPECT_NE(error_of(post + "Transfer-Encoding: gzip\r\n\r\n"), "");
  EXPECT_NE(error_of(post + "Transfer-Encoding: chunked, gzip\r\n\r\n"), "");
  // Line ends and folding http_parser would accept.
  EXPECT_NE(error_of("GET / HTTP/1.1\nHost: a.example\n\n").find("CRLF"), std::string::npos);
  EXPECT_NE(error_of("GET / HTTP/1.1\r\nHost: a.example\nX: y\r\n\r\n").find("CRLF"),
            std::string::npos);
  EXPECT_NE(
      error_of("GET / HTTP/1.1\r\nHost: a.example\r\nX: a\r\n chunked\r\n\r\n").find("obs-fold"),
      std::string::npos);
  EXPECT_NE(error_of("GET / HTTP/1.1\r\nHost : a.example\r\n\r\n").find("not a token"),
            std::string::npos);
  EXPECT_NE(error_of(post + "Transfer-Encoding : chunked\r\n\r\n"), "");
  EXPECT_NE(error_of("GET  / HTTP/1.1\r\nHost: a.example\r\n\r\n"), "");
  EXPECT_NE(error_of("GET / HTTP/1.1 \r\nHost: a.example\r\n\r\n"), "");
  EXPECT_NE(error_of("GET /a\tb HTTP/1.1\r\nHost: a.example\r\n\r\n"), "");
  EXPECT_NE(error_of("GET / HTTP/1.1\r\nHost: a\x01.example\r\n\r\n"), "");
  EXPECT_NE(error_of("GET / HTTP/1.1\r\nX: \x7f\r\n\r\n"), "");
  EXPECT_NE(error_of("GET /\r\n\r\n").find("HTTP/0.9"), std::string::npos);
  EXPECT_NE(error_of("GET / HTTP/1.10\r\nHost: a.example\r\n\r\n"), "");
  EXPECT_NE(error_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "");

  // Chunk framing http_parser alone would take.
  const std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(error_of(chunked + "5\r\nhello\r\n0\r\n\r\n"), "");
  EXPECT_NE(error_of(chunked + "5\rXhelloAB0\r\n\r\n"), "");
  EXPECT_NE(error_of(chunked + "5\r\nhelloAB0\r\n\r\n"), "");
  EXPECT_NE(error_of(chunked + "5\nhello\n0\n\n"), "");
  EXPECT_NE(error_of(chunked + "5 \r\nhello\r\n0\r\n\r\n"), "");
  EXPECT_NE(error_of(chunked + "5\r\nhello\r\n0\r\n\n"), "");
  EXPECT_NE(error_of(chunked + "5\r\nhello\r\n0\r\n X: y\r\n\r\n"), "");
  EXPECT_NE(error_of(chunked + "11111111111111111\r\n"), "");
  EXPECT_EQ(error_of(chunked + "0005\r\nhello\r\n0\r\nA: b\r\nC: d\r\n\r\n"), "");

  // Between and after messages.
  const std::string get = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
  EXPECT_EQ(error_of(get + "\r\n\r\n" + get), "");
  EXPECT_NE(error_of(get + "\n" + get), "");
  EXPECT_NE(error_of(get + "\rX"), "");
  EXPECT_NE(error_of("GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n" + get)
                .find("closes the connection"),
            std::string::npos);
  EXPECT_EQ(error_of("GET / HTTP/1.0\r\nHost: a.example\r\n\r\n"), "");
  EXPECT_NE(error_of("GET / HTTP/1.0\r\nHost: a.example\r\n\r\n" + get), "");
  EXPECT_NE(
      error_of("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
               "\x81\x05hello")
          .find("Upgrade"),
      std::string::npos);
  EXPECT_NE(error_of("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n\x16\x03\x01"),
            "");
}

TEST(RequestStream, UpgradeAndConnectHeadsAreReported) {
  const Transcript upgrade = run(
      "GET /ws HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  ASSERT_EQ(upgrade.heads.size(), 1u);
  EXPECT_TRUE(upgrade.heads[0].upgrade);
  const Transcript h2c = run("GET / HTTP/1.1\r\nHost: a.example\r\nUpgrade: h2c\r\n\r\n");
  ASSERT_EQ(h2c.heads.size(), 1u);
  EXPECT_TRUE(h2c.heads[0].upgrade);  // even without "Connection: upgrade"
  const Transcript connect = run("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n");
  ASSERT_EQ(connect.heads.size(), 1u);
  EXPECT_TRUE(connect.heads[0].upgrade);
  EXPECT_EQ(connect.heads[0].target, "a.example:443");
}

// --- ResponseStream
// -------------------------------------------------------------------------------

struct ResponseTranscript {
  std::vector<int> statuses;
  std::vector<std::uint64_t> body_bytes;
  std::uint64_t body_slices = 0;
  std::string error;
};

ResponseTranscript read_responses(const std::vector<std::string>& methods, std::string_view input,
                                  std::size_t chunk, bool close) {
  ResponseStream stream;
  for (const std::string& method : methods) stream.expect_response(method);
  ResponseTranscript t;
  std::vector<ResponseEvent> events;
  const auto take = [&](std::string_view piece) {
    for (const ResponseEvent& event : events) {
      if (event.kind == ResponseEvent::Kind::head) t.statuses.push_back(event.head.status);
      if (event.kind == ResponseEvent::Kind::body) {
        EXPECT_LE(event.offset + event.length, piece.size());
        t.body_slices += event.length;
      }
      if (event.kind == ResponseEvent::Kind::message_end) t.body_bytes.push_back(event.body_bytes);
      if (event.kind == ResponseEvent::Kind::error) t.error = event.error;
    }
    events.clear();
  };
  const std::size_t step = chunk == 0 ? std::max<std::size_t>(input.size(), 1) : chunk;
  for (std::size_t at = 0; at < input.size(); at += step) {
    stream.feed(bytes_of(input.substr(at, step)), events);
    take(input.substr(at, step));
  }
  if (close) {
    stream.finish(events);
    take({});
  }
  return t;
}

TEST(ResponseStream, StatusesBodiesAndHead) {
  const std::string input =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
      "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"  // to HEAD: no body
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
  for (const std::size_t chunk : {0, 1, 5}) {
    const ResponseTranscript t =
        read_responses({"POST", "HEAD", "GET", "DELETE", "GET"}, input, chunk, true);
    EXPECT_EQ(t.error, "") << chunk;
    EXPECT_EQ(t.statuses, (std::vector<int>{100, 200, 200, 404, 204, 200})) << chunk;
    EXPECT_EQ(t.body_bytes, (std::vector<std::uint64_t>{0, 5, 0, 3, 0, 13})) << chunk;
  }
  const ResponseTranscript truncated =
      read_responses({"GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, true);
  EXPECT_NE(truncated.error, "");
  const ResponseTranscript cut_head = read_responses({"GET"}, "HTTP/1.1 200 OK\r\nCont", 0, true);
  EXPECT_NE(cut_head.error, "");
  const ResponseTranscript garbage = read_responses({"GET"}, "SSH-2.0-OpenSSH\r\n", 0, false);
  EXPECT_NE(garbage.error, "");
}

// --- check_request -----------------------------------------------------------------------------

policy::Policy policy_of(const std::string& text) {
  const policy::ParseResult result = policy::parse_rules(text, "test");
  for (const policy::ParseError& error : result.errors) ADD_FAILURE() << error.to_string();
  policy::Policy policy;
  policy::append_rules(policy, result.rules);
  return policy;
}

RequestHead head_of(const std::string& raw) {
  const Transcript t = run(raw);
  EXPECT_EQ(t.error, "") << raw;
  EXPECT_EQ(t.heads.size(), 1u) << raw;
  return t.heads.empty() ? RequestHead{} : t.heads.front();
}

RequestHead get(const std::string& target, const std::string& host = "example.com") {
  RequestHead head;
  head.method = "GET";
  head.target = target;
  head.headers = {{"host", host}};
  return head;
}

// "allowed by RULE" or "refused: REASON".
std::string decide(const policy::Policy& policy, const RequestHead& head,
                   std::string_view scheme = "http", std::string_view tls_name = "",
                   std::uint16_t port = 80) {
  const RequestDecision d = check_request(policy, head, scheme, tls_name, port);
  if (d.allowed) {
    EXPECT_TRUE(d.reason.empty());
    return "allowed by " + (d.rule ? d.rule->text : std::string("?"));
  }
  EXPECT_FALSE(d.reason.empty());
  return "refused: " + d.reason;
}

bool refused_with(const std::string& outcome, const std::string& words) {
  return outcome.rfind("refused: ", 0) == 0 && outcome.find(words) != std::string::npos;
}

TEST(CheckRequest, DomainRuleAllowsTheWholeHost) {
  const policy::Policy policy = policy_of("example.com:80,443 *.example.org");
  EXPECT_EQ(decide(policy, get("/")), "allowed by example.com:80,443");
  EXPECT_EQ(decide(policy, get("/any/path?q=1", "EXAMPLE.com.")), "allowed by example.com:80,443");
  EXPECT_EQ(decide(policy, get("/", "a.b.example.org")), "allowed by *.example.org");
  EXPECT_TRUE(refused_with(decide(policy, get("/", "example.org")), "no rule allows the host"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "example.com:8080"), "http", "", 8080),
                           "not port 8080"));
  // Paths that would be ambiguous under URL rules do not matter for a host allowed whole.
  EXPECT_EQ(decide(policy, get("/api/v4/projects/group%2Fproject")),
            "allowed by example.com:80,443");
  EXPECT_EQ(decide(policy, get("/a/..;/b")), "allowed by example.com:80,443");

  const RequestDecision d =
      check_request(policy, get("/x/./y?q=1", "Example.com:80"), "http", "", 80);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.host, "example.com");
  EXPECT_EQ(d.path, "/x/y");
  EXPECT_EQ(d.url, "http://example.com/x/y?q=1");
  const RequestDecision s =
      check_request(policy, get("/", "example.com"), "https", "example.com", 8443);
  EXPECT_EQ(s.url, "https://example.com:8443/");
}

TEST(CheckRequest, IpHosts) {
  const policy::Policy policy = policy_of("198.51.100.7:80 [2001:db8::1]:8080");
  EXPECT_EQ(decide(policy, get("/", "198.51.100.7")), "allowed by 198.51.100.7:80");
  EXPECT_EQ(decide(policy, get("/", "[2001:DB8::1]:8080"), "http", "", 8080),
            "allowed by [2001:db8::1]:8080");
  EXPECT_TRUE(refused_with(decide(policy, get("/", "198.51.100.8")), "no rule"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "2001:db8::1")), "brackets"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "[2001:db8::1")), "IPv6"));
}

TEST(CheckRequest, RequestFormRefusals) {
  const policy::Policy policy = policy_of("example.com");
  const auto with = [](RequestHead head, auto change) {
    change(head);
    return head;
  };
  EXPECT_TRUE(refused_with(decide(policy, head_of("CONNECT example.com:443 HTTP/1.1\r\nHost: "
                                                  "example.com:443\r\n\r\n")),
                           "CONNECT"));
  EXPECT_TRUE(refused_with(
      decide(policy, head_of("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")),
      "absolute-form"));
  EXPECT_TRUE(refused_with(decide(policy, get("example.com:80")), "authority-form"));
  EXPECT_EQ(decide(policy, head_of("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n")),
            "allowed by example.com");
  EXPECT_TRUE(refused_with(decide(policy, get("*")), "only for OPTIONS"));
  EXPECT_TRUE(refused_with(decide(policy, head_of("GET / HTTP/1.1\r\n\r\n")), "without a Host"));
  EXPECT_TRUE(refused_with(decide(policy, head_of("GET / HTTP/1.0\r\n\r\n")), "names no site"));
  EXPECT_EQ(decide(policy, head_of("GET / HTTP/1.0\r\n\r\n"), "https", "example.com", 443),
            "allowed by example.com");
  EXPECT_TRUE(refused_with(
      decide(policy, head_of("GET / HTTP/1.1\r\nHost: example.com\r\nHost: evil.example\r\n\r\n")),
      "more than one Host"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "user@example.com")), "user information"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "example.com:8080")), "port 8080"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "example.com:")), "not a port"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "example.com:0")), "not a port"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "example.com:+80")), "not a port"));
  EXPECT_EQ(decide(policy, get("/", "example.com:80")), "allowed by example.com");
  EXPECT_TRUE(refused_with(decide(policy, get("/", "")), "empty Host"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "exa_mple.com")), "not a valid host"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "a..example.com")), "not a valid host"));
  EXPECT_TRUE(refused_with(decide(policy, get("/", "bücher.example")), "not a valid host"));

  // HTTPS: Host must be the name the TLS connection was made for.
  EXPECT_EQ(decide(policy, get("/", "Example.COM."), "https", "example.com", 443),
            "allowed by example.com");
  EXPECT_EQ(decide(policy, get("/", "example.com:443"), "https", "example.com", 443),
            "allowed by example.com");
  EXPECT_TRUE(refused_with(decide(policy, get("/", "other.example"), "https", "example.com", 443),
                           "domain fronting"));
  EXPECT_TRUE(
      refused_with(decide(policy, get("/"), "https", "", 443), "without a TLS server name"));

  // Targets.
  const std::vector<std::string> bad_targets = {
      "/a b", "/a\r\nX: y", std::string("/a\0b", 4), "/caf\xc3\xa9", "/a\tb", "/a\x7f"};
  for (const std::string& target : bad_targets) {
    EXPECT_TRUE(refused_with(decide(policy, get(target)), "control character, space or non-ASCII"))
        << target;
  }
  EXPECT_TRUE(refused_with(decide(policy, get("/a#frag")), "fragment"));
  EXPECT_TRUE(refused_with(decide(policy, get("/a\\b")), "backslash"));
  EXPECT_TRUE(refused_with(decide(policy, get("")), "empty request target"));

  // Framing headers (the stream already refuses most of these; heads may come from elsewhere).
  const auto headers = [&](std::vector<std::pair<std::string, std::string>> extra) {
    RequestHead head = get("/");
    head.method = "POST";
    head.headers.insert(head.headers.end(), extra.begin(), extra.end());
    return decide(policy, head);
  };
  EXPECT_EQ(headers({{"transfer-encoding", "chunked"}}), "allowed by example.com");
  EXPECT_EQ(headers({{"Transfer-Encoding", "Chunked"}}), "allowed by example.com");
  EXPECT_EQ(headers({{"content-length", "5"}}), "allowed by example.com");
  EXPECT_TRUE(refused_with(headers({{"transfer-encoding", "chunked"}, {"content-length", "5"}}),
                           "both Transfer-Encoding and Content-Length"));
  EXPECT_TRUE(refused_with(headers({{"transfer-encoding", "gzip, chunked"}}), "exactly 'chunked'"));
  EXPECT_TRUE(refused_with(headers({{"transfer-encoding", "chunked, chunked"}}), "exactly"));
  EXPECT_TRUE(
      refused_with(headers({{"transfer-encoding", "chunked"}, {"transfer-encoding", "chunked"}}),
                   "more than one Transfer-Encoding"));
  EXPECT_TRUE(refused_with(headers({{"content-length", "5"}, {"content-length", "5"}}),
                           "more than one Content-Length"));
  EXPECT_TRUE(refused_with(headers({{"content-length", "5, 5"}}), "not a number"));
  // Client text in reasons is escaped: reasons go into JSON reports.
  EXPECT_TRUE(refused_with(headers({{"transfer-encoding", "gz\xff\\ip"}}), "'gz\\xff\\x5cip'"));
  EXPECT_TRUE(refused_with(decide(policy, get("/",
                                              "b\xc3\xbc"
                                              "cher.example")),
                           "'b\\xc3\\xbccher.example' is not a valid host name"));
  EXPECT_TRUE(refused_with(headers({{"content-length", ""}}), "not a number"));
  EXPECT_TRUE(refused_with(decide(policy, with(get("/"),
                                               [](RequestHead& h) {
                                                 h.minor = 0;
                                                 h.headers.emplace_back("transfer-encoding",
                                                                        "chunked");
                                               })),
                           "HTTP/1.0"));

  // Versions.
  EXPECT_TRUE(refused_with(decide(policy, with(get("/"),
                                               [](RequestHead& h) {
                                                 h.major = 0;
                                                 h.minor = 9;
                                               })),
                           "HTTP/0.9"));
  for (const auto& [major, minor] : {std::pair{2, 0}, {1, 2}, {3, 0}, {0, 1}}) {
    EXPECT_TRUE(refused_with(decide(policy, with(get("/"),
                                                 [&](RequestHead& h) {
                                                   h.major = major;
                                                   h.minor = minor;
                                                 })),
                             "not supported"));
  }
  EXPECT_TRUE(refused_with(decide(policy, head_of("GET / HTTP/2.0\r\nHost: example.com\r\n\r\n")),
                           "not supported"));

  // Upgrades.
  EXPECT_TRUE(refused_with(decide(policy, head_of("GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: "
                                                  "websocket\r\nConnection: Upgrade\r\n\r\n")),
                           "upgrades"));
  EXPECT_TRUE(refused_with(
      decide(policy, head_of("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, "
                             "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: "
                             "AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")),
      "upgrades"));
  EXPECT_TRUE(refused_with(decide(policy, get("/"), "ftp"), "unknown scheme"));
}

TEST(CheckRequest, UrlRulePaths) {
  const policy::Policy policy = policy_of(
      "https://h.example/org/* https://h.example/team* https://h.example/exact "
      "https://root.example/ https://site.example example.com:443 h.example:443");
  const auto at = [&](const std::string& host, const std::string& target) {
    return decide(policy, get(target, host), "https", host, 443);
  };
  const std::string org = "allowed by https://h.example/org/*";
  EXPECT_EQ(at("h.example", "/org/"), org);
  EXPECT_EQ(at("h.example", "/org/x"), org);
  EXPECT_EQ(at("h.example", "/org/x/y?z=1#"),
            "refused: a fragment ('#') in the request target; clients never send one");
  EXPECT_EQ(at("h.example", "/org/x?q=/../../other"), org);  // the query is not matched
  EXPECT_EQ(at("h.example", "/org/./x"), org);
  EXPECT_EQ(at("h.example", "/org/a/../b"), org);
  EXPECT_EQ(at("h.example", "/org//x"), org);
  EXPECT_EQ(at("h.example", "/%6Frg/%7Ex"), org);  // unreserved escapes are decoded
  EXPECT_TRUE(
      refused_with(at("h.example", "/org"), "no URL rule for h.example allows the path '/org'"));
  EXPECT_TRUE(refused_with(at("h.example", "/org2"), "no URL rule"));
  EXPECT_TRUE(refused_with(at("h.example", "/organisation/x"), "no URL rule"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/../other"), "allows the path '/other'"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/%2e%2e/other"), "%2E"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/.%2E/other"), "%2E"));
  EXPECT_TRUE(refused_with(at("h.example", "/org%2Fx"), "encoded slash"));
  EXPECT_TRUE(refused_with(at("h.example", "/org%2fx"), "encoded slash"));
  EXPECT_TRUE(refused_with(at("h.example", "//org/x"), "ambiguous path"));
  EXPECT_TRUE(refused_with(at("h.example", "/x//../org/y"), "ambiguous path"));
  EXPECT_TRUE(refused_with(at("h.example", "/other/../org/x"), "ambiguous path"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/..;/admin"), "';'"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/x%3B/y"), "%3B"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/%5C..%5Cadmin"), "backslash"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/%00"), "NUL"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/%252e%252e/x"), "double encoding"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/%zz"), "two hex digits"));
  EXPECT_TRUE(refused_with(at("h.example", "/../org/x"), "above the root"));
  EXPECT_TRUE(refused_with(at("h.example", "/org/a|b"), "not allowed in a path"));
  EXPECT_TRUE(refused_with(at("h.example", "*"), "OPTIONS"));

  // "/team*": "/team" and below at a '/' boundary, never "/teamwork".
  EXPECT_EQ(at("h.example", "/team"), "allowed by https://h.example/team*");
  EXPECT_EQ(at("h.example", "/team/"), "allowed by https://h.example/team*");
  EXPECT_EQ(at("h.example", "/team/a/b"), "allowed by https://h.example/team*");
  EXPECT_TRUE(refused_with(at("h.example", "/teamwork"), "no URL rule"));
  // Exact paths.
  EXPECT_EQ(at("h.example", "/exact"), "allowed by https://h.example/exact");
  EXPECT_EQ(at("h.example", "/exact?x=1"), "allowed by https://h.example/exact");
  EXPECT_TRUE(refused_with(at("h.example", "/exact/"), "no URL rule"));
  EXPECT_TRUE(refused_with(at("h.example", "/exact/./"), "no URL rule"));
  EXPECT_EQ(at("root.example", "/"), "allowed by https://root.example/");
  EXPECT_TRUE(refused_with(at("root.example", "/index.html"), "no URL rule"));
  // No path: the whole site (the proxy still intercepts it).
  EXPECT_EQ(at("site.example", "/anything/at/all"), "allowed by https://site.example");
  EXPECT_EQ(at("site.example", "/"), "allowed by https://site.example");
  // The domain rule for h.example does not widen its URL rules; other hosts use domain rules.
  EXPECT_TRUE(refused_with(at("h.example", "/"), "no URL rule"));
  EXPECT_EQ(at("example.com", "/org%2Fx"), "allowed by example.com:443");
  // URL rules are per scheme: plain HTTP to h.example is not on port 443 nor 'https'.
  EXPECT_TRUE(refused_with(decide(policy, get("/org/x", "h.example")), "not port 80"));
}

TEST(CheckRequest, UrlRuleHostsAndPorts) {
  const policy::Policy policy =
      policy_of("https://*.w.example/api/* https://p.example:8443/x http://plain.example/ok*");
  const auto at = [&](const std::string& scheme, const std::string& host, std::uint16_t port,
                      const std::string& target) {
    return decide(policy, get(target, host), scheme, scheme == "https" ? host : "", port);
  };
  EXPECT_EQ(at("https", "a.w.example", 443, "/api/v1"), "allowed by https://*.w.example/api/*");
  EXPECT_EQ(at("https", "a.b.w.example", 443, "/api/v1"), "allowed by https://*.w.example/api/*");
  EXPECT_TRUE(refused_with(at("https", "a.w.example", 443, "/apix"), "no URL rule"));
  EXPECT_TRUE(refused_with(at("https", "w.example", 443, "/api/v1"), "no rule allows the host"));
  EXPECT_TRUE(refused_with(at("https", "aw.example", 443, "/api/v1"), "no rule allows the host"));
  EXPECT_EQ(at("https", "p.example", 8443, "/x"), "allowed by https://p.example:8443/x");
  EXPECT_TRUE(refused_with(at("https", "p.example", 443, "/x"), "no rule allows the host"));
  EXPECT_EQ(at("http", "plain.example", 80, "/ok/1"), "allowed by http://plain.example/ok*");
  EXPECT_TRUE(refused_with(at("https", "plain.example", 443, "/ok/1"), "no rule allows the host"));

  EXPECT_TRUE(host_has_url_rules(policy, "a.w.example", "https", 443));
  EXPECT_TRUE(host_has_url_rules(policy, "x.y.w.example", "https", 443));
  EXPECT_FALSE(host_has_url_rules(policy, "w.example", "https", 443));
  EXPECT_FALSE(host_has_url_rules(policy, "a.w.example", "http", 80));
  EXPECT_FALSE(host_has_url_rules(policy, "a.w.example", "https", 8443));
  EXPECT_TRUE(host_has_url_rules(policy, "p.example", "https", 8443));
  EXPECT_FALSE(host_has_url_rules(policy, "p.example", "https", 443));
  EXPECT_TRUE(host_has_url_rules(policy, "plain.example", "http", 80));
}

TEST(CheckRequest, NormalizePath) {
  const auto normal = [](std::string_view path) {
    std::string why;
    const auto out = normalize_path(path, &why);
    EXPECT_TRUE(out || !why.empty());
    return out ? *out : "refused: " + why;
  };
  EXPECT_EQ(normal("/"), "/");
  EXPECT_EQ(normal("/a/b"), "/a/b");
  EXPECT_EQ(normal("/a/b/"), "/a/b/");
  EXPECT_EQ(normal("/a/./b"), "/a/b");
  EXPECT_EQ(normal("/a/."), "/a/");
  EXPECT_EQ(normal("/a/b/.."), "/a/");
  EXPECT_EQ(normal("/a/b/../c"), "/a/c");
  EXPECT_EQ(normal("/a/.."), "/");
  EXPECT_EQ(normal("//a///b//"), "/a/b/");
  EXPECT_EQ(normal("/%41%7e%2d%5F%2e"), "/A~-_.");
  EXPECT_EQ(normal("/a%2eb"), "/a.b");
  EXPECT_EQ(normal("/%e2%82%ac%3f%23%20"), "/%E2%82%AC%3F%23%20");
  EXPECT_EQ(normal("/a:b@c!$&'()*+,="), "/a:b@c!$&'()*+,=");
  EXPECT_EQ(normal("/..."), "/...");
  EXPECT_EQ(normal("/a/.../b"), "/a/.../b");
  EXPECT_EQ(normal("/%25"), "/%25");
  EXPECT_EQ(normal("/100%25done"), "/100%25done");
  for (const std::string_view bad :
       {"",          "a/b",    "/..",          "/a/../..", "/a/%2e%2e", "/%2E",
        "/a/.%2e/b", "/a%2Fb", "/a%2fb",       "/a%5Cb",   "/a%00",     "/a;b",
        "/a%3bb",    "/%252F", "/%",           "/%4",      "/%g0",      "/a b",
        "/a\\b",     "/a\"b",  "/a<b",         "/a{b",     "/a|b",      "/a^b",
        "/a`b",      "/a[b",   "/caf\xc3\xa9", "/a#b",     "/a?b"}) {
    EXPECT_EQ(normal(bad).rfind("refused: ", 0), 0u) << bad;
  }
  EXPECT_EQ(normalize_path("/..", nullptr), std::nullopt);  // `why` is optional
}

TEST(CheckRequest, PathMatches) {
  const auto pattern = [](std::string path, bool prefix) {
    policy::UrlPattern p;
    p.path = std::move(path);
    p.path_is_prefix = prefix;
    return p;
  };
  EXPECT_TRUE(path_matches(pattern("/org/", true), "/org/"));
  EXPECT_TRUE(path_matches(pattern("/org/", true), "/org/a/b"));
  EXPECT_FALSE(path_matches(pattern("/org/", true), "/org"));
  EXPECT_TRUE(path_matches(pattern("/org", true), "/org"));
  EXPECT_TRUE(path_matches(pattern("/org", true), "/org/x"));
  EXPECT_FALSE(path_matches(pattern("/org", true), "/organisation"));
  EXPECT_TRUE(path_matches(pattern("/", true), "/anything"));
  EXPECT_TRUE(path_matches(pattern("/a", false), "/a"));
  EXPECT_FALSE(path_matches(pattern("/a", false), "/a/"));
}

}  // namespace
}  // namespace cgfw::http
