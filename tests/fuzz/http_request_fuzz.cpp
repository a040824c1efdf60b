// libFuzzer target: client bytes -> RequestStream, each head -> check_request; the same bytes as
// a server's -> ResponseStream. The first input byte is the feed size (0: everything at once),
// so heads, chunk lines and CRLFs get split at every point. Whatever the bytes, the streams
// report slices inside what was fed, heads within the limits and in order, and a decision with
// a rule or a reason; normalised paths are fixed points of normalize_path.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/parser.h"
#include "proxy/http/request_check.h"
#include "proxy/http/request_stream.h"

namespace {

using namespace cgfw;
using namespace cgfw::http;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

const policy::Policy& fuzz_policy() {
  static const policy::Policy policy = [] {
    policy::Policy p;
    policy::append_rules(
        p, policy::parse_rules("example.com *.example.org:80 198.51.100.7:80 "
                               "https://h.example/org/* https://h.example/team* "
                               "http://h.example/pub/* https://*.w.example/api/ h.example",
                               "fuzz")
               .rules);
    return p;
  }();
  return policy;
}

void check_decision(const RequestDecision& decision) {
  if (decision.allowed) {
    check(decision.rule != nullptr && decision.reason.empty());
    check(!decision.host.empty() && !decision.url.empty());
  } else {
    check(!decision.reason.empty());
  }
}

void check_head(const StreamEvent& event) {
  const RequestHead& head = event.head;
  check(event.raw_head.size() <= kMaxHeadBytes);
  check(event.raw_head.ends_with("\r\n\r\n"));
  check(event.raw_head.starts_with(head.method + " " + head.target + " HTTP/"));
  check(head.headers.size() <= kMaxRequestHeaders);
  for (const auto& [name, value] : head.headers) {
    check(!name.empty());
    for (const char c : name) check(!(c >= 'A' && c <= 'Z'));
  }
  check(!(head.chunked && head.content_length));
  const policy::Policy& policy = fuzz_policy();
  check_decision(check_request(policy, head, "http", "", 80));
  check_decision(check_request(policy, head, "https", "h.example", 443));
  check_decision(check_request(policy, head, "https", "a.w.example", 443));

  const std::string_view target = head.target;
  std::string why;
  if (const auto path = normalize_path(target.substr(0, target.find('?')), &why)) {
    check(path->starts_with("/"));
    check(path->find("//") == std::string::npos && path->find("/./") == std::string::npos &&
          path->find("/../") == std::string::npos);
    const auto again = normalize_path(*path, nullptr);
    check(again && *again == *path);
  } else {
    check(!why.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = data[0] == 0 ? size : data[0];
  const std::span<const std::uint8_t> input(data + 1, size - 1);

  RequestStream requests;
  std::vector<StreamEvent> events;
  std::size_t heads = 0;
  std::size_t ends = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t decoded = 0;  // body bytes of the current message, from the events' spans
  bool failed = false;
  for (std::size_t at = 0; at < input.size(); at += step) {
    const auto piece = input.subspan(at, std::min(step, input.size() - at));
    events.clear();
    requests.feed(piece, events);
    for (const StreamEvent& event : events) {
      check(!failed || event.kind == StreamEvent::Kind::error);
      switch (event.kind) {
        case StreamEvent::Kind::head:
          check(heads == ends);  // one message at a time
          ++heads;
          forwarded += event.raw_head.size();
          check_head(event);
          break;
        case StreamEvent::Kind::body:
          check(heads == ends + 1 && event.length > 0);
          check(event.offset <= piece.size() && event.length <= piece.size() - event.offset);
          forwarded += event.length;
          for (const auto& [offset, length] : event.data) {
            check(offset >= event.offset && length <= event.offset + event.length - offset);
            decoded += length;
          }
          break;
        case StreamEvent::Kind::message_end:
          check(heads == ends + 1 && event.offset <= piece.size());
          check(event.body_bytes == decoded);
          decoded = 0;
          ++ends;
          break;
        case StreamEvent::Kind::error:
          check(!event.error.empty());
          failed = true;
          break;
      }
    }
    check(requests.failed() == failed);
    check(requests.messages() == ends);
  }
  check(forwarded <= input.size());

  // The same bytes as a server's answers to alternating GET and HEAD requests.
  ResponseStream responses;
  for (int i = 0; i < 8; ++i) responses.expect_response(i % 2 ? "HEAD" : "GET");
  std::vector<ResponseEvent> answers;
  for (std::size_t at = 0; at < input.size(); at += step) {
    const auto piece = input.subspan(at, std::min(step, input.size() - at));
    answers.clear();
    responses.feed(piece, answers);
    for (const ResponseEvent& event : answers) {
      if (event.kind == ResponseEvent::Kind::body) {
        check(event.offset <= piece.size() && event.length <= piece.size() - event.offset);
      }
      if (event.kind == ResponseEvent::Kind::head) {
        check(event.head.status >= 100 && event.head.status <= 999);
      }
    }
  }
  answers.clear();
  responses.finish(answers);
  return 0;
}
