#include "proxy/tls/client_hello.h"

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace cgfw::tls {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// The first flight of a real OpenSSL client: SSL_connect over memory BIOs, once.
Bytes openssl_hello(int version, const char* server_name, const std::vector<std::string>& alpn) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  EXPECT_TRUE(ctx);
  if (!ctx) return {};
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (server_name != nullptr) {
    EXPECT_EQ(SSL_set_tlsext_host_name(ssl.get(), server_name), 1);
  }
  if (!alpn.empty()) {
    Bytes wire;
    for (const std::string& name : alpn) {
      wire.push_back(static_cast<std::uint8_t>(name.size()));
      wire.insert(wire.end(), name.begin(), name.end());
    }
    EXPECT_EQ(SSL_set_alpn_protos(ssl.get(), wire.data(), static_cast<unsigned>(wire.size())), 0);
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // the SSL owns both now
  SSL_set_connect_state(ssl.get());
  EXPECT_EQ(SSL_connect(ssl.get()), -1);
  EXPECT_EQ(SSL_get_error(ssl.get(), -1), SSL_ERROR_WANT_READ);
  Bytes bytes(static_cast<std::size_t>(BIO_pending(out)));
  EXPECT_EQ(BIO_read(out, bytes.data(), static_cast<int>(bytes.size())),
            static_cast<int>(bytes.size()));
  return bytes;
}

Bytes tls13_hello() { return openssl_hello(TLS1_3_VERSION, "Example.COM", {"h2", "http/1.1"}); }

// --- hand-built hellos, for what OpenSSL will not send -----------------------------------------

void put16(Bytes& out, std::size_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

struct Extension {
  std::uint16_t type;
  Bytes data;
};

Bytes server_name_ext(const std::vector<std::pair<std::uint8_t, std::string>>& entries) {
  Bytes list;
  for (const auto& [type, name] : entries) {
    list.push_back(type);
    put16(list, name.size());
    list.insert(list.end(), name.begin(), name.end());
  }
  Bytes data;
  put16(data, list.size());
  data.insert(data.end(), list.begin(), list.end());
  return data;
}

Bytes sni(const std::string& name) { return server_name_ext({{0, name}}); }

Bytes alpn_ext(const std::vector<std::string>& names) {
  Bytes list;
  for (const std::string& name : names) {
    list.push_back(static_cast<std::uint8_t>(name.size()));
    list.insert(list.end(), name.begin(), name.end());
  }
  Bytes data;
  put16(data, list.size());
  data.insert(data.end(), list.begin(), list.end());
  return data;
}

// A ClientHello handshake message (with its 4-byte header).
Bytes handshake(const std::vector<Extension>& extensions, bool extension_block = true) {
  Bytes body = {0x03, 0x03};
  body.insert(body.end(), 32, 0xab);                  // random
  body.push_back(0);                                  // session id
  body.insert(body.end(), {0x00, 0x02, 0x13, 0x01});  // one suite
  body.insert(body.end(), {0x01, 0x00});              // null compression
  if (extension_block) {
    Bytes block;
    for (const Extension& extension : extensions) {
      put16(block, extension.type);
      put16(block, extension.data.size());
      block.insert(block.end(), extension.data.begin(), extension.data.end());
    }
    put16(body, block.size());
    body.insert(body.end(), block.begin(), block.end());
  }
  Bytes message = {0x01, 0, 0, 0};
  message[1] = static_cast<std::uint8_t>(body.size() >> 16);
  message[2] = static_cast<std::uint8_t>(body.size() >> 8);
  message[3] = static_cast<std::uint8_t>(body.size());
  message.insert(message.end(), body.begin(), body.end());
  return message;
}

// Wraps `payload` in handshake records, cutting it at the given offsets.
Bytes records(const Bytes& payload, std::vector<std::size_t> cuts = {}) {
  cuts.push_back(payload.size());
  Bytes out;
  std::size_t from = 0;
  for (const std::size_t to : cuts) {
    out.insert(out.end(), {0x16, 0x03, 0x01});
    put16(out, to - from);
    out.insert(out.end(), payload.begin() + static_cast<std::ptrdiff_t>(from),
               payload.begin() + static_cast<std::ptrdiff_t>(to));
    from = to;
  }
  return out;
}

Bytes payload_of(const Bytes& single_record) {
  return Bytes(single_record.begin() + 5, single_record.end());
}

HelloResult parse(const Bytes& bytes) { return parse_client_hello(bytes); }

std::string status_of(const Bytes& bytes) { return to_string(parse(bytes).status); }

// --- real clients ------------------------------------------------------------------------------

TEST(ClientHello, OpenSslTls13) {
  const Bytes bytes = tls13_hello();
  const HelloResult result = parse(bytes);
  ASSERT_EQ(result.status, HelloStatus::ok) << result.error;
  EXPECT_TRUE(result.hello.has_sni);
  EXPECT_EQ(result.hello.sni, "example.com");
  EXPECT_EQ(result.hello.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(result.hello.record_version, 0x0301);
  EXPECT_EQ(result.hello.client_version, 0x0303);
  EXPECT_FALSE(result.hello.has_ech);
  EXPECT_EQ(result.record_bytes, bytes.size());
}

TEST(ClientHello, OpenSslTls12) {
  const Bytes bytes = openssl_hello(TLS1_2_VERSION, "api.example.org", {"http/1.1"});
  const HelloResult result = parse(bytes);
  ASSERT_EQ(result.status, HelloStatus::ok) << result.error;
  EXPECT_EQ(result.hello.sni, "api.example.org");
  EXPECT_EQ(result.hello.alpn, std::vector<std::string>{"http/1.1"});
  EXPECT_EQ(result.hello.client_version, 0x0303);
}

TEST(ClientHello, OpenSslWithoutServerName) {
  const HelloResult result = parse(openssl_hello(TLS1_3_VERSION, nullptr, {}));
  ASSERT_EQ(result.status, HelloStatus::ok) << result.error;
  EXPECT_FALSE(result.hello.has_sni);
  EXPECT_EQ(result.hello.sni, "");
  EXPECT_TRUE(result.hello.alpn.empty());
}

TEST(ClientHello, EveryPrefixNeedsMore) {
  for (const Bytes& bytes : {tls13_hello(), openssl_hello(TLS1_2_VERSION, "a.example", {})}) {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      const HelloResult result = parse_client_hello(std::span(bytes.data(), n));
      ASSERT_EQ(result.status, HelloStatus::need_more) << "prefix " << n << ": " << result.error;
      EXPECT_GE(result.bytes_needed, 1u);
      EXPECT_LE(n + result.bytes_needed, bytes.size()) << "prefix " << n;
    }
    EXPECT_EQ(status_of(bytes), "ok");
  }
}

TEST(ClientHello, SplitIntoTwoRecordsAtEveryOffset) {
  const Bytes payload = payload_of(tls13_hello());
  for (std::size_t cut = 1; cut < payload.size(); ++cut) {
    const Bytes bytes = records(payload, {cut});
    const HelloResult result = parse(bytes);
    ASSERT_EQ(result.status, HelloStatus::ok) << "cut " << cut << ": " << result.error;
    EXPECT_EQ(result.hello.sni, "example.com");
    EXPECT_EQ(result.record_bytes, bytes.size());
  }
  // And every prefix of one fragmented hello still asks for more.
  const Bytes bytes = records(payload, {2});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    ASSERT_EQ(parse_client_hello(std::span(bytes.data(), n)).status, HelloStatus::need_more) << n;
  }
}

TEST(ClientHello, RecordCountLimit) {
  const Bytes payload = payload_of(tls13_hello());
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < kMaxHelloRecords; ++i) cuts.push_back(i);
  EXPECT_EQ(status_of(records(payload, cuts)), "ok");
  cuts.push_back(kMaxHelloRecords);
  const HelloResult result = parse(records(payload, cuts));
  EXPECT_EQ(result.status, HelloStatus::malformed);
  EXPECT_NE(result.error.find("more than 64 records"), std::string::npos) << result.error;
}

TEST(ClientHello, BytesAfterTheHelloRecordsAreIgnored) {
  Bytes bytes = tls13_hello();
  const std::size_t size = bytes.size();
  bytes.insert(bytes.end(), {0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03});
  const HelloResult result = parse(bytes);
  ASSERT_EQ(result.status, HelloStatus::ok) << result.error;
  EXPECT_EQ(result.record_bytes, size);
}

TEST(ClientHello, NotTls) {
  const std::string http = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  const HelloResult result = parse(Bytes(http.begin(), http.end()));
  EXPECT_EQ(result.status, HelloStatus::not_tls);
  EXPECT_NE(result.error.find("HTTP"), std::string::npos) << result.error;
  // SSLv2-compatible hello: two-byte header with the high bit set, then msg type 1.
  EXPECT_EQ(status_of({0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15}), "not_tls");
  EXPECT_EQ(status_of({0x16, 0x02, 0x00}), "not_tls");  // a handshake byte, but not version 3.x
  EXPECT_EQ(status_of({0x17, 0x03, 0x03, 0x00, 0x10}), "not_tls");
  EXPECT_EQ(status_of({0x16}), "need_more");
  EXPECT_EQ(status_of({0x16, 0x03}), "need_more");
  EXPECT_EQ(status_of({}), "need_more");
}

TEST(ClientHello, MalformedRecords) {
  const Bytes payload = payload_of(tls13_hello());
  Bytes empty_record = {0x16, 0x03, 0x01, 0x00, 0x00};
  EXPECT_EQ(status_of(empty_record), "malformed");
  EXPECT_EQ(status_of({0x16, 0x03, 0x01, 0x40, 0x01}), "malformed");  // 16385-byte record

  Bytes server_hello = payload;
  server_hello[0] = 0x02;
  EXPECT_EQ(status_of(records(server_hello)), "malformed");
  // Detected from the first bytes, before the record is complete.
  EXPECT_EQ(status_of({0x16, 0x03, 0x01, 0x01, 0x00, 0x02, 0x00, 0x00, 0x10}), "malformed");

  // A handshake length over 16 KiB.
  EXPECT_EQ(status_of({0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x40, 0x00}), "malformed");

  // An alert between the two records of a fragmented hello.
  Bytes interrupted = records(Bytes(payload.begin(), payload.begin() + 10));
  interrupted.insert(interrupted.end(), {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28});
  EXPECT_EQ(status_of(interrupted), "malformed");
  Bytes interrupted_early = records(Bytes(payload.begin(), payload.begin() + 10));
  interrupted_early.push_back(0x15);
  EXPECT_EQ(status_of(interrupted_early), "malformed");
  Bytes interrupted_version = records(Bytes(payload.begin(), payload.begin() + 10));
  interrupted_version.insert(interrupted_version.end(), {0x16, 0x02});
  EXPECT_EQ(status_of(interrupted_version), "malformed");

  // Handshake bytes after the ClientHello inside its last record.
  Bytes trailing = payload;
  trailing.insert(trailing.end(), {0x0b, 0x00, 0x00, 0x00});
  EXPECT_EQ(status_of(records(trailing)), "malformed");
}

TEST(ClientHello, CorruptLengths) {
  const Bytes bytes = tls13_hello();
  // Handshake length one short: the record then holds a byte after the hello.
  Bytes shorter = bytes;
  shorter[8] = static_cast<std::uint8_t>(shorter[8] - 1);
  EXPECT_EQ(status_of(shorter), "malformed");
  // Handshake length one long: the message continues in a record that has not come yet.
  Bytes longer = bytes;
  longer[8] = static_cast<std::uint8_t>(longer[8] + 1);
  EXPECT_EQ(status_of(longer), "need_more");
  // Record length one long: the record would run past the hello, known without waiting.
  Bytes record_longer = bytes;
  record_longer[4] = static_cast<std::uint8_t>(record_longer[4] + 1);
  EXPECT_EQ(status_of(record_longer), "malformed");
  // Record length one short: the hello continues in a record that has not come yet.
  Bytes record_shorter = bytes;
  record_shorter[4] = static_cast<std::uint8_t>(record_shorter[4] - 1);
  EXPECT_EQ(status_of(Bytes(record_shorter.begin(), record_shorter.end() - 1)), "need_more");

  // Inner lengths, on a hand-built hello whose layout is known.
  const Bytes message = handshake({{0, sni("a.example")}, {16, alpn_ext({"h2"})}});
  const std::size_t suites_at = 4 + 2 + 32 + 1;
  Bytes odd_suites = message;
  odd_suites[suites_at + 1] = 3;
  EXPECT_EQ(status_of(records(odd_suites)), "malformed");
  Bytes long_session = message;
  long_session[4 + 2 + 32] = 33;
  EXPECT_EQ(status_of(records(long_session)), "malformed");
  const std::size_t extensions_at = suites_at + 4 + 2;
  Bytes extensions_long = message;
  extensions_long[extensions_at + 1] =
      static_cast<std::uint8_t>(extensions_long[extensions_at + 1] + 1);
  EXPECT_EQ(status_of(records(extensions_long)), "malformed");
  Bytes sni_list_long = message;
  sni_list_long[extensions_at + 2 + 4 + 1] =
      static_cast<std::uint8_t>(sni_list_long[extensions_at + 2 + 4 + 1] + 1);
  EXPECT_EQ(status_of(records(sni_list_long)), "malformed");
  Bytes name_long = message;
  name_long[extensions_at + 2 + 4 + 2 + 2] =
      static_cast<std::uint8_t>(name_long[extensions_at + 2 + 4 + 2 + 2] + 1);
  EXPECT_EQ(status_of(records(name_long)), "malformed");

  // Whatever single byte changes, parsing returns a status and stays inside the buffer.
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const std::uint8_t delta : {1, 0x80, 0xff}) {
      Bytes mutated = bytes;
      mutated[i] = static_cast<std::uint8_t>(mutated[i] + delta);
      const HelloResult result = parse(mutated);
      if (result.status == HelloStatus::malformed || result.status == HelloStatus::not_tls) {
        EXPECT_FALSE(result.error.empty());
      }
    }
  }
}

TEST(ClientHello, ServerNames) {
  const auto sni_of = [](const Bytes& data) {
    const HelloResult result = parse(records(handshake({{0, data}})));
    return result.status == HelloStatus::ok ? "ok:" + result.hello.sni
                                            : "malformed:" + result.error;
  };
  EXPECT_EQ(sni_of(sni("WWW.Example.COM")), "ok:www.example.com");
  EXPECT_EQ(sni_of(sni("example.com.")), "ok:example.com");
  EXPECT_EQ(sni_of(sni("_dmarc.example.com")), "ok:_dmarc.example.com");
  EXPECT_EQ(sni_of(sni(std::string(63, 'a') + ".example")),
            "ok:" + std::string(63, 'a') + ".example");
  EXPECT_EQ(sni_of(server_name_ext({{0, "a.example"}, {7, "ignored"}})), "ok:a.example");
  for (const std::string& bad :
       {std::string(), std::string("."), std::string("example.com.."), std::string("a..b"),
        std::string(".example.com"), std::string("exa mple.com"), std::string("a/b.example"),
        std::string("a\0b.example", 11), std::string("a%2eb"), std::string("[::1]"),
        std::string("a.example:443"), std::string(64, 'a') + ".example", std::string(254, 'a'),
        std::string("b\xc3\xbc"
                    "cher.example")}) {
    EXPECT_EQ(sni_of(sni(bad)).rfind("malformed:", 0), 0u) << bad;
  }
  std::string long_name;
  while (long_name.size() < 256) long_name += "abcdefgh.";
  EXPECT_EQ(sni_of(sni(long_name.substr(0, 256))).rfind("malformed:", 0), 0u);

  const HelloResult two =
      parse(records(handshake({{0, server_name_ext({{0, "a.example"}, {0, "b.example"}})}})));
  EXPECT_EQ(two.status, HelloStatus::malformed);
  EXPECT_NE(two.error.find("two host_name"), std::string::npos) << two.error;

  EXPECT_EQ(status_of(records(handshake({{0, server_name_ext({{7, "x"}})}}))), "malformed");
  EXPECT_EQ(status_of(records(handshake({{0, {0x00, 0x00}}}))), "malformed");  // empty list
  EXPECT_EQ(status_of(records(handshake({{0, {}}}))), "malformed");
}

TEST(ClientHello, Extensions) {
  const HelloResult duplicate =
      parse(records(handshake({{0, sni("a.example")}, {0, sni("b.example")}})));
  EXPECT_EQ(duplicate.status, HelloStatus::malformed);
  EXPECT_NE(duplicate.error.find("twice"), std::string::npos) << duplicate.error;
  EXPECT_EQ(status_of(records(handshake({{43, {0x02, 0x03, 0x04}}, {43, {0x02, 0x03, 0x04}}}))),
            "malformed");

  const HelloResult ech =
      parse(records(handshake({{0, sni("public.example")}, {0xfe0d, {0, 1, 2}}})));
  ASSERT_EQ(ech.status, HelloStatus::ok) << ech.error;
  EXPECT_TRUE(ech.hello.has_ech);
  EXPECT_EQ(ech.hello.sni, "public.example");

  const HelloResult alpn =
      parse(records(handshake({{16, alpn_ext({"h2", "http/1.1", "acme-tls/1"})}})));
  ASSERT_EQ(alpn.status, HelloStatus::ok) << alpn.error;
  EXPECT_EQ(alpn.hello.alpn, (std::vector<std::string>{"h2", "http/1.1", "acme-tls/1"}));
  EXPECT_FALSE(alpn.hello.has_sni);
  EXPECT_EQ(status_of(records(handshake({{16, alpn_ext({"h2", ""})}}))), "malformed");
  const HelloResult grease =
      parse(records(handshake({{16, alpn_ext({std::string("\x0a\x0a"), "a\\b c"})}})));
  ASSERT_EQ(grease.status, HelloStatus::ok) << grease.error;
  EXPECT_EQ(grease.hello.alpn, (std::vector<std::string>{"\\x0a\\x0a", "a\\x5cb\\x20c"}));
  EXPECT_EQ(status_of(records(handshake({{16, {0x00, 0x00}}}))), "malformed");

  // No extension block at all (an old client) is fine; an empty one too.
  EXPECT_EQ(status_of(records(handshake({}, false))), "ok");
  EXPECT_EQ(status_of(records(handshake({}))), "ok");
}

}  // namespace
}  // namespace cgfw::tls
