#include "proxy/http/request_stream.h"

#include <algorithm>
#include <cstdio>
#include <deque>

#include <http_parser.h>

#include "proxy/http/http_syntax.h"

namespace cgfw::http {
namespace {

std::string describe(http_errno error) {
  switch (error) {
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      return "Content-Length together with Transfer-Encoding, or Content-Length twice (request "
             "smuggling)";
    case HPE_INVALID_TRANSFER_ENCODING:
      return "a Transfer-Encoding whose last coding is not 'chunked' cannot frame a request";
    case HPE_HEADER_OVERFLOW:
      return "the head is larger than 64 KiB";
    default:
      return std::string("invalid HTTP: ") + http_errno_description(error);
  }
}

// What http_parser decided about the message once its head was read.
struct Framing {
  bool keep_alive = true;
  bool upgrade = false;
  bool chunked = false;
  std::optional<std::uint64_t> content_length;
  int status = 0;
  int major = 1, minor = 1;
};

// The byte-level machinery both streams share: where heads and messages end, the head buffer and
// its limit, the states between and after messages. Subclasses read heads and emit events.
class MessageReader {
 public:
  MessageReader(const MessageReader&) = delete;
  MessageReader& operator=(const MessageReader&) = delete;
  virtual ~MessageReader() = default;

  void read(std::span<const std::uint8_t> bytes);
  void read_eof();
  bool failed() const { return phase_ == Phase::failed; }
  std::uint64_t messages() const { return messages_; }

 protected:
  MessageReader(http_parser_type type, bool strict_chunks);

  // The head is complete (`raw` exactly as received): emit it, or return why it is refused.
  virtual std::string head_complete(std::string raw, const Framing& framing) = 0;
  // Called by http_parser mid-head: true when this message has no body whatever it says.
  virtual bool skip_body(const Framing& /*framing*/) { return false; }
  // `data`: where the decoded body bytes of the slice are (chunk data without the framing).
  virtual void body(std::size_t offset, std::size_t length, BodySpans data) = 0;
  virtual void message_end(std::size_t offset, std::uint64_t body_bytes) = 0;
  virtual void failure(const std::string& why) = 0;

 private:
  enum class Phase { between, head, body, closed, upgraded, failed };

  void fail(std::string why) {
    phase_ = Phase::failed;
    error_ = std::move(why);
    failure(error_);
  }
  std::size_t read_between(const char* data, std::size_t size);
  std::size_t read_head(const char* data, std::size_t size, std::size_t base);
  std::size_t read_body(const char* data, std::size_t size, std::size_t base);
  void end_message(std::size_t offset);

  static int on_headers_complete(http_parser* parser);
  static int on_body(http_parser* parser, const char* at, std::size_t length);

  const char* fed_ = nullptr;  // the buffer being read, for on_body's offsets
  BodySpans spans_;
  static int on_message_complete(http_parser* parser);

  http_parser parser_{};
  http_parser_settings settings_{};
  bool strict_chunks_;
  Phase phase_ = Phase::between;
  bool cr_pending_ = false;  // a CR between messages, waiting for its LF
  std::string head_;
  Framing framing_;
  bool headers_done_ = false;
  bool message_done_ = false;
  std::uint64_t body_bytes_ = 0;
  std::uint64_t messages_ = 0;
  ChunkChecker chunks_;
  std::string error_;
};

MessageReader::MessageReader(http_parser_type type, bool strict_chunks)
    : strict_chunks_(strict_chunks) {
  http_parser_init(&parser_, type);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_headers_complete = &MessageReader::on_headers_complete;
  settings_.on_body = &MessageReader::on_body;
  settings_.on_message_complete = &MessageReader::on_message_complete;
}

// Both callbacks pause the parser, so http_parser_execute returns exactly where the head and the
// message end: at the head's final LF (not yet consumed) and just after the message's last byte.
int MessageReader::on_headers_complete(http_parser* parser) {
  auto* self = static_cast<MessageReader*>(parser->data);
  Framing& framing = self->framing_;
  framing.keep_alive = http_should_keep_alive(parser) != 0;
  framing.upgrade = parser->upgrade != 0;
  framing.chunked = (parser->flags & F_CHUNKED) != 0;
  framing.content_length.reset();
  if (parser->flags & F_CONTENTLENGTH) framing.content_length = parser->content_length;
  framing.status = static_cast<int>(parser->status_code);
  framing.major = parser->http_major;
  framing.minor = parser->http_minor;
  self->headers_done_ = true;
  http_parser_pause(parser, 1);
  return self->skip_body(framing) ? 1 : 0;
}

int MessageReader::on_body(http_parser* parser, const char* at, std::size_t length) {
  auto* self = static_cast<MessageReader*>(parser->data);
  self->body_bytes_ += length;
  self->spans_.emplace_back(static_cast<std::size_t>(at - self->fed_), length);
  return 0;
}

int MessageReader::on_message_complete(http_parser* parser) {
  auto* self = static_cast<MessageReader*>(parser->data);
  self->message_done_ = true;
  self->framing_.keep_alive = self->framing_.keep_alive && http_should_keep_alive(parser) != 0;
  http_parser_pause(parser, 1);
  return 0;
}

void MessageReader::read(std::span<const std::uint8_t> bytes) {
  if (phase_ == Phase::failed) {
    failure(error_);
    return;
  }
  const char* data = reinterpret_cast<const char*>(bytes.data());
  fed_ = data;
  std::size_t pos = 0;
  while (pos < bytes.size() && phase_ != Phase::failed) {
    switch (phase_) {
      case Phase::between:
      case Phase::closed:
      case Phase::upgraded:
        pos += read_between(data + pos, bytes.size() - pos);
        break;
      case Phase::head:
        pos += read_head(data + pos, bytes.size() - pos, pos);
        break;
      case Phase::body:
        pos += read_body(data + pos, bytes.size() - pos, pos);
        break;
      case Phase::failed:
        break;
    }
  }
}

// Empty lines (CRLF) before a message are dropped, as RFC 9112 2.2 allows; lone CRs or LFs are
// not, nor anything after a message that closes the connection or leaves HTTP.
std::size_t MessageReader::read_between(const char* data, std::size_t size) {
  std::size_t pos = 0;
  for (; pos < size; ++pos) {
    const char c = data[pos];
    if (cr_pending_) {
      if (c != '\n') {
        fail("a CR without LF between messages");
        return pos;
      }
      cr_pending_ = false;
      continue;
    }
    if (c == '\r') {
      cr_pending_ = true;
      continue;
    }
    if (c == '\n') {
      fail("a bare LF between messages; empty lines are CRLF");
      return pos;
    }
    if (phase_ == Phase::upgraded) {
      fail("bytes after an Upgrade or CONNECT request, which would not be HTTP");
      return pos;
    }
    if (phase_ == Phase::closed) {
      fail("bytes after a message that closes the connection");
      return pos;
    }
    phase_ = Phase::head;
    head_.clear();
    headers_done_ = false;
    message_done_ = false;
    body_bytes_ = 0;
    chunks_.reset();
    return pos;
  }
  return pos;
}

std::size_t MessageReader::read_head(const char* data, std::size_t size, std::size_t base) {
  // At most the head's remaining allowance: a head that is not complete within it is too long.
  const std::size_t chunk = std::min(size, kMaxHeadBytes - head_.size());
  const std::size_t parsed = http_parser_execute(&parser_, &settings_, data, chunk);
  const auto error = HTTP_PARSER_ERRNO(&parser_);
  if (!headers_done_) {
    if (error != HPE_OK) {
      fail(describe(error));
      return parsed;
    }
    head_.append(data, parsed);
    if (head_.size() >= kMaxHeadBytes) fail("the head is larger than 64 KiB");
    return parsed;
  }
  if (error != HPE_PAUSED || parsed >= chunk || data[parsed] != '\n') {
    fail("the head did not end where expected");
    return parsed;
  }
  http_parser_pause(&parser_, 0);
  head_.append(data, parsed + 1);
  if (std::string why = head_complete(std::move(head_), framing_); !why.empty()) {
    fail(std::move(why));
    return parsed + 1;
  }
  head_.clear();
  // The parser has not consumed the head's LF yet: give it that byte alone, so the body starts
  // cleanly at the next one. A message without a body ends right here.
  const std::size_t lf = http_parser_execute(&parser_, &settings_, data + parsed, 1);
  const auto after = HTTP_PARSER_ERRNO(&parser_);
  if (message_done_ && after == HPE_PAUSED && lf == 1) {
    http_parser_pause(&parser_, 0);
    end_message(base + parsed + 1);
    return parsed + 1;
  }
  if (after != HPE_OK || lf != 1) {
    fail(describe(after));
    return parsed + 1;
  }
  phase_ = Phase::body;
  return parsed + 1;
}

std::size_t MessageReader::read_body(const char* data, std::size_t size, std::size_t base) {
  spans_.clear();
  const std::size_t parsed = http_parser_execute(&parser_, &settings_, data, size);
  const auto error = HTTP_PARSER_ERRNO(&parser_);
  if (message_done_) {
    if (error != HPE_PAUSED) {
      fail(describe(error));
      return parsed;
    }
    http_parser_pause(&parser_, 0);
  } else if (error != HPE_OK) {
    fail(describe(error));
    return parsed;
  }
  if (framing_.chunked && strict_chunks_) {
    std::string why;
    if (!chunks_.consume(std::string_view(data, parsed), why)) {
      fail("chunked body: " + why);
      return parsed;
    }
    if (chunks_.done() != message_done_) {
      fail("chunked body: http_parser and the strict framing check disagree where it ends");
      return parsed;
    }
  }
  if (parsed > 0) body(base, parsed, std::move(spans_));
  spans_.clear();
  if (message_done_) end_message(base + parsed);
  return parsed;
}

void MessageReader::end_message(std::size_t offset) {
  ++messages_;
  message_end(offset, body_bytes_);
  if (parser_.upgrade) {
    phase_ = Phase::upgraded;
  } else {
    phase_ = framing_.keep_alive ? Phase::between : Phase::closed;
  }
}

void MessageReader::read_eof() {
  switch (phase_) {
    case Phase::failed:
      failure(error_);
      return;
    case Phase::between:
    case Phase::closed:
    case Phase::upgraded:
      return;
    case Phase::head:
      fail("the connection closed inside a message head");
      return;
    case Phase::body:
      http_parser_execute(&parser_, &settings_, nullptr, 0);
      if (message_done_) {
        http_parser_pause(&parser_, 0);
        end_message(0);
        phase_ = Phase::closed;
        return;
      }
      fail("the connection closed before the message ended");
      return;
  }
}

}  // namespace

// --- RequestStream ------------------------------------------------------------------------------

struct RequestStream::Impl final : MessageReader {
  Impl() : MessageReader(HTTP_REQUEST, /*strict_chunks=*/true) {}

  void feed(std::span<const std::uint8_t> bytes, std::vector<StreamEvent>& events) {
    out = &events;
    read(bytes);
    out = nullptr;
  }

  std::string head_complete(std::string raw, const Framing& framing) override {
    StreamEvent event;
    event.kind = StreamEvent::Kind::head;
    if (std::string why = parse_request_head(raw, event.head); !why.empty()) return why;
    RequestHead& head = event.head;
    head.keep_alive = framing.keep_alive;
    head.chunked = framing.chunked;
    head.content_length = framing.content_length;
    head.upgrade =
        framing.upgrade || std::any_of(head.headers.begin(), head.headers.end(),
                                       [](const auto& h) { return h.first == "upgrade"; });
    event.raw_head = std::move(raw);
    out->push_back(std::move(event));
    return "";
  }
  void body(std::size_t offset, std::size_t length, BodySpans data) override {
    StreamEvent event;
    event.kind = StreamEvent::Kind::body;
    event.offset = offset;
    event.length = length;
    event.data = std::move(data);
    out->push_back(std::move(event));
  }
  void message_end(std::size_t offset, std::uint64_t body_bytes) override {
    StreamEvent event;
    event.kind = StreamEvent::Kind::message_end;
    event.offset = offset;
    event.body_bytes = body_bytes;
    out->push_back(std::move(event));
  }
  void failure(const std::string& why) override {
    StreamEvent event;
    event.kind = StreamEvent::Kind::error;
    event.error = why;
    out->push_back(std::move(event));
  }

  std::vector<StreamEvent>* out = nullptr;
};

RequestStream::RequestStream() : impl_(std::make_unique<Impl>()) {}
RequestStream::~RequestStream() = default;
RequestStream::RequestStream(RequestStream&&) noexcept = default;
RequestStream& RequestStream::operator=(RequestStream&&) noexcept = default;

void RequestStream::feed(std::span<const std::uint8_t> bytes, std::vector<StreamEvent>& out) {
  impl_->feed(bytes, out);
}
bool RequestStream::failed() const { return impl_->failed(); }
std::uint64_t RequestStream::messages() const { return impl_->messages(); }

// --- ResponseStream -----------------------------------------------------------------------------

struct ResponseStream::Impl final : MessageReader {
  Impl() : MessageReader(HTTP_RESPONSE, /*strict_chunks=*/false) {}

  bool skip_body(const Framing& framing) override {
    const bool interim = framing.status / 100 == 1 && framing.status != 101;
    if (interim) return false;  // http_parser knows 1xx has no body; the request stays pending
    std::string method = "GET";
    if (!expected.empty()) {
      method = std::move(expected.front());
      expected.pop_front();
    }
    return method == "HEAD";
  }
  std::string head_complete(std::string raw, const Framing& framing) override {
    // http_parser takes one to three digits; RFC 9110 15 says three.
    if (framing.status < 100 || framing.status > 999) return "a status code that is not 3 digits";
    ResponseEvent event;
    event.kind = ResponseEvent::Kind::head;
    if (std::string why = parse_response_head(raw, event.head); !why.empty()) return why;
    event.head.status = framing.status;
    event.head.major = framing.major;
    event.head.minor = framing.minor;
    event.head.keep_alive = framing.keep_alive;
    event.head.chunked = framing.chunked;
    event.head.content_length = framing.content_length;
    out->push_back(std::move(event));
    return "";
  }
  void body(std::size_t offset, std::size_t length, BodySpans /*data*/) override {
    ResponseEvent event;
    event.kind = ResponseEvent::Kind::body;
    event.offset = offset;
    event.length = length;
    out->push_back(std::move(event));
  }
  void message_end(std::size_t offset, std::uint64_t body_bytes) override {
    ResponseEvent event;
    event.kind = ResponseEvent::Kind::message_end;
    event.offset = offset;
    event.body_bytes = body_bytes;
    out->push_back(std::move(event));
  }
  void failure(const std::string& why) override {
    ResponseEvent event;
    event.kind = ResponseEvent::Kind::error;
    event.error = why;
    out->push_back(std::move(event));
  }

  std::vector<ResponseEvent>* out = nullptr;
  std::deque<std::string> expected;
};

ResponseStream::ResponseStream() : impl_(std::make_unique<Impl>()) {}
ResponseStream::~ResponseStream() = default;
ResponseStream::ResponseStream(ResponseStream&&) noexcept = default;
ResponseStream& ResponseStream::operator=(ResponseStream&&) noexcept = default;

void ResponseStream::expect_response(std::string_view request_method) {
  impl_->expected.emplace_back(request_method);
}
void ResponseStream::feed(std::span<const std::uint8_t> bytes, std::vector<ResponseEvent>& out) {
  impl_->out = &out;
  impl_->read(bytes);
  impl_->out = nullptr;
}
void ResponseStream::finish(std::vector<ResponseEvent>& out) {
  impl_->out = &out;
  impl_->read_eof();
  impl_->out = nullptr;
}
bool ResponseStream::failed() const { return impl_->failed(); }
std::uint64_t ResponseStream::messages() const { return impl_->messages(); }

}  // namespace cgfw::http
