#include "ca/run_ca.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <utility>
#include <vector>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ca/leaf_key.h"

namespace cgfw::ca {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

// Clients whose clock lags the host's a little still accept a fresh certificate.
constexpr std::chrono::hours kBackdate{1};
constexpr int kSerialBits = 128;
constexpr std::size_t kCaNameRandomBytes = 8;
// X.509's upper bound for commonName (ub-common-name); OpenSSL refuses longer values.
constexpr std::size_t kMaxCommonName = 64;

// ASN.1 times have whole seconds; keeping our copies in whole seconds makes them equal to what
// the certificate says.
TimePoint whole_seconds(TimePoint time) {
  return std::chrono::time_point_cast<std::chrono::seconds>(time);
}

Error openssl_failure(const std::string& what) {
  return make_error(what + " failed: " + openssl_error());
}

Result<EvpPkeyPtr> generate_p256_key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return openssl_failure("generating an ECDSA P-256 key");
  return key;
}

// A positive 128-bit serial (top bit set, so it is never zero or short): unpredictable serials
// keep two certificates of one run, or of two runs, from ever sharing issuer and serial.
Status set_random_serial(X509* certificate) {
  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), kSerialBits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate)) == nullptr) {
    return openssl_failure("drawing a random serial number");
  }
  return Ok{};
}

Status set_validity(X509* certificate, TimePoint not_before, TimePoint not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(certificate),
                    std::chrono::system_clock::to_time_t(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(certificate),
                    std::chrono::system_clock::to_time_t(not_after)) == nullptr) {
    return openssl_failure("setting the validity period");
  }
  return Ok{};
}

Status add_name_entry(X509_NAME* name, int nid, const std::string& value) {
  if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                 0) != 1) {
    return openssl_failure("adding '" + value + "' to a certificate name");
  }
  return Ok{};
}

// Adds one extension written in OpenSSL's config syntax ("critical,CA:TRUE"); `issuer` is the
// certificate itself for the self-signed CA. Values come from validated names and constants only.
Status add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value.c_str()));
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    return openssl_failure(std::string("adding the ") + OBJ_nid2sn(nid) + " extension '" + value +
                           "'");
  }
  return Ok{};
}

Result<std::string> random_hex(std::size_t bytes) {
  std::array<unsigned char, 32> random{};
  bytes = std::min(bytes, random.size());
  if (RAND_bytes(random.data(), static_cast<int>(bytes)) != 1) {
    return openssl_failure("drawing random bytes");
  }
  std::string hex;
  for (std::size_t i = 0; i < bytes; ++i) {
    char digits[3];
    std::snprintf(digits, sizeof digits, "%02x", random[i]);
    hex += digits;
  }
  return hex;
}

Result<std::string> to_pem(X509* certificate) {
  BioPtr memory(BIO_new(BIO_s_mem()));
  if (!memory || PEM_write_bio_X509(memory.get(), certificate) != 1) {
    return openssl_failure("writing the CA certificate as PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(memory.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string utc_text(TimePoint time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

// What differs between the CA certificate and a leaf; build_certificate does the rest.
struct CertificateSpec {
  X509* issuer = nullptr;  // null: self-signed
  EVP_PKEY* signing_key = nullptr;
  EVP_PKEY* subject_key = nullptr;
  std::vector<std::pair<int, std::string>> subject;     // NID, value, in order
  std::vector<std::pair<int, std::string>> extensions;  // NID, OpenSSL config value
  TimePoint not_before;
  TimePoint not_after;
};

// A version 3 certificate with a random serial, signed ECDSA-SHA256.
Result<X509Ptr> build_certificate(const CertificateSpec& spec) {
  X509Ptr certificate(X509_new());
  X509NamePtr name(X509_NAME_new());
  if (!certificate || !name) return openssl_failure("allocating a certificate");
  X509* cert = certificate.get();
  if (X509_set_version(cert, X509_VERSION_3) != 1) return openssl_failure("setting the version");
  if (Status ok = set_random_serial(cert); !ok) return ok.error();
  for (const auto& [nid, value] : spec.subject) {
    if (Status ok = add_name_entry(name.get(), nid, value); !ok) return ok.error();
  }
  // For a self-signed certificate the subject just set is also the issuer.
  X509* issuer = spec.issuer != nullptr ? spec.issuer : cert;
  if (X509_set_subject_name(cert, name.get()) != 1 ||
      X509_set_issuer_name(cert, X509_get_subject_name(issuer)) != 1 ||
      X509_set_pubkey(cert, spec.subject_key) != 1) {
    return openssl_failure("setting the names and the public key");
  }
  if (Status ok = set_validity(cert, spec.not_before, spec.not_after); !ok) return ok.error();
  for (const auto& [nid, value] : spec.extensions) {
    if (Status ok = add_extension(cert, issuer, nid, value); !ok) return ok.error();
  }
  if (X509_sign(cert, spec.signing_key, EVP_sha256()) <= 0) return openssl_failure("signing");
  return certificate;
}

}  // namespace

Result<std::unique_ptr<RunCa>> RunCa::make(const CaOptions& options) {
  if (Status ok = check_options(options); !ok) return make_error("run CA: " + ok.error().message);
  const TimePoint now = whole_seconds(options.clock ? options.clock() : TimePoint::clock::now());
  const TimePoint not_after = now + options.validity;

  Result<EvpPkeyPtr> ca_key = generate_p256_key();
  if (!ca_key) return ca_key.error();
  Result<EvpPkeyPtr> leaf_key = generate_leaf_key();
  if (!leaf_key) return leaf_key.error();
  Result<std::string> run_id = random_hex(kCaNameRandomBytes);
  if (!run_id) return run_id.error();

  CertificateSpec spec;
  spec.signing_key = ca_key->get();
  spec.subject_key = ca_key->get();
  spec.subject = {{NID_organizationName, "cgfw"}, {NID_commonName, "cgfw run CA " + *run_id}};
  spec.extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                     {NID_key_usage, "critical,keyCertSign,cRLSign"},
                     {NID_subject_key_identifier, "hash"}};
  if (std::string constraints = name_constraints_config(options); !constraints.empty()) {
    spec.extensions.emplace_back(NID_name_constraints, std::move(constraints));
  }
  spec.not_before = now - kBackdate;
  spec.not_after = not_after;
  Result<X509Ptr> certificate = build_certificate(spec);
  if (!certificate) return make_error("run CA certificate: " + certificate.error().message);

  Result<std::string> pem = to_pem(certificate->get());
  if (!pem) return pem.error();
  return std::unique_ptr<RunCa>(new RunCa(options, std::move(*ca_key), std::move(*certificate),
                                          std::move(*pem), std::move(*leaf_key), not_after));
}

RunCa::RunCa(CaOptions options, EvpPkeyPtr ca_key, X509Ptr certificate, std::string certificate_pem,
             EvpPkeyPtr leaf_key, TimePoint not_after)
    : options_(std::move(options)),
      ca_key_(std::move(ca_key)),
      certificate_(std::move(certificate)),
      certificate_pem_(std::move(certificate_pem)),
      leaf_key_(std::move(leaf_key)),
      not_after_(not_after),
      cache_(options_.leaf_cache_size) {}

RunCa::TimePoint RunCa::now() const {
  return whole_seconds(options_.clock ? options_.clock() : TimePoint::clock::now());
}

Result<std::shared_ptr<const Leaf>> RunCa::leaf_for(std::string_view host) {
  Result<LeafHost> parsed = parse_leaf_host(host);
  if (!parsed) return parsed.error();
  if (!permits(options_, *parsed)) {
    return make_error("the run CA may not issue a certificate for '" + parsed->text +
                      "': it is outside the CA's name constraints (the hosts of the policy's "
                      "domain and URL rules)");
  }

  // One lock across lookup and mint: two connections to a new host get the same leaf, and the
  // counters are exact. A mint takes a few hundred microseconds, short enough to serialise.
  const std::lock_guard<std::mutex> lock(mutex_);
  const TimePoint time = now();
  if (std::shared_ptr<const Leaf> cached = cache_.find(parsed->text)) {
    if (cached->valid_for(time, kMinRemainingValidity)) {
      ++hit_count_;
      return cached;
    }
    cache_.erase(parsed->text);
  }
  if (time + kMinRemainingValidity > not_after_) {
    return make_error("the run CA expires at " + utc_text(not_after_) +
                      ", so it cannot issue a certificate for '" + parsed->text +
                      "'; raise the CA validity for runs this long");
  }
  Result<std::shared_ptr<const Leaf>> minted = mint(*parsed, time);
  if (!minted) return minted.error();
  ++mint_count_;
  cache_.insert(*minted);
  return minted;
}

Result<std::shared_ptr<const Leaf>> RunCa::mint(const LeafHost& host, TimePoint now) const {
  const bool is_dns = host.kind == LeafHost::Kind::dns;
  CertificateSpec spec;
  spec.issuer = certificate_.get();
  spec.signing_key = ca_key_.get();
  spec.subject_key = leaf_key_.get();
  spec.subject = {{NID_organizationName, "cgfw"}};
  // No CN for IP leaves: see leaf_for in run_ca.h.
  if (is_dns && host.text.size() <= kMaxCommonName)
    spec.subject.emplace_back(NID_commonName, host.text);
  spec.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_subject_alt_name, (is_dns ? "DNS:" : "IP:") + host.text},
                     {NID_authority_key_identifier, "keyid:always"}};
  spec.not_before = now - kBackdate;
  spec.not_after = std::min(not_after_, now + options_.validity);
  Result<X509Ptr> certificate = build_certificate(spec);
  if (!certificate) {
    return make_error("minting a leaf for '" + host.text + "': " + certificate.error().message);
  }
  return std::make_shared<const Leaf>(host.text, std::move(*certificate), leaf_key_.get(),
                                      spec.not_before, spec.not_after);
}

std::uint64_t RunCa::mint_count() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return mint_count_;
}

std::uint64_t RunCa::hit_count() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return hit_count_;
}

Result<RunCa::TrustBundle> RunCa::write_trust_bundle(const std::string& dir,
                                                     const std::string& system_bundle) const {
  return write_trust_bundle_files(certificate_pem_, dir, system_bundle);
}

}  // namespace cgfw::ca
