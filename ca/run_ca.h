// The per-run certificate authority: the TLS proxy intercepts HTTPS to hosts with URL rules and
// presents leaves this CA mints on demand; the sandboxed job trusts the CA through the bundle
// written by write_trust_bundle. A fresh CA per run, so nothing outlives the run. See docs/ca.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ca/leaf_cache.h"
#include "ca/name_constraints.h"
#include "ca/openssl_handles.h"
#include "ca/trust_bundle.h"
#include "common/result.h"

namespace cgfw::ca {

// Thread-safe: leaf_for may be called from any thread; the rest is immutable after make().
class RunCa {
 public:
  using TrustBundle = ca::TrustBundle;

  // A leaf's remaining validity that a cache hit needs to be handed out again.
  static constexpr std::chrono::seconds kMinRemainingValidity{60};

  // Fresh ECDSA P-256 CA key and self-signed certificate (random 128-bit serial, notBefore
  // now-1h, notAfter now+validity, CN "cgfw run CA <random hex>", O "cgfw", basicConstraints
  // critical CA:TRUE pathlen:0, keyUsage critical keyCertSign+cRLSign, subjectKeyIdentifier,
  // nameConstraints as CaOptions describes). One ECDSA P-256 leaf key is generated too and
  // shared by every leaf (minting stays cheap: no key generation per host).
  // The CA private key lives only in this process's memory: never written anywhere.
  // Errors: options that fail check_options, or OpenSSL failures (with openssl_error()).
  static Result<std::unique_ptr<RunCa>> make(const CaOptions& options);

  RunCa(const RunCa&) = delete;
  RunCa& operator=(const RunCa&) = delete;

  // The CA certificate, PEM ("-----BEGIN CERTIFICATE-----...\n").
  const std::string& certificate_pem() const { return certificate_pem_; }
  // The CA certificate, owned by the RunCa (X509_STORE_add_cert takes its own reference).
  X509* certificate() const { return certificate_.get(); }

  // The leaf for `host`: a DNS name (lower-case) or an IP literal ("198.51.100.10",
  // "2001:db8::10"; brackets allowed). DNS leaf: subject O=cgfw, CN=host (no CN when the name is
  // longer than X.509's 64-character limit), subjectAltName DNS:host. IP leaf: subject O=cgfw
  // only, subjectAltName IP:host — OpenSSL checks a CN that looks like a host name against the
  // DNS constraints, so CN=198.51.100.10 would fail verification under a DNS-constrained CA.
  // Both: EKU serverAuth, keyUsage critical digitalSignature, basicConstraints critical CA:FALSE,
  // authorityKeyIdentifier, random serial, notBefore now-1h, notAfter min(CA notAfter,
  // now+validity), signed ECDSA-SHA256.
  // Refuses (error) a host the name constraints do not permit, a malformed host (empty, > 253
  // bytes, characters outside LDH, wildcards), and any host once the CA has less than
  // kMinRemainingValidity left. Names are lower-cased and lose a trailing dot first.
  // Cached: a bounded LRU of `leaf_cache_size`; a hit is re-checked (valid for at least
  // kMinRemainingValidity) before use, and re-minted if not; the same std::shared_ptr is returned
  // for the same host while cached. A returned leaf stays valid after eviction.
  Result<std::shared_ptr<const Leaf>> leaf_for(std::string_view host);

  // Leaves minted and cache hits so far (for benchmarks and tests).
  std::uint64_t mint_count() const;
  std::uint64_t hit_count() const;

  // Writes into `dir`: "cgfw-ca.pem" (the run CA alone) and "ca-bundle.pem" (the system bundle
  // from `system_bundle`, followed by the run CA), both 0644 (the CA certificate is public; the
  // key is never written). Missing system bundle: an error naming the file, unless
  // `system_bundle` is "", which means "run CA only". See write_trust_bundle_files.
  Result<TrustBundle> write_trust_bundle(
      const std::string& dir, const std::string& system_bundle = std::string(kSystemBundle)) const;

 private:
  using TimePoint = std::chrono::system_clock::time_point;

  RunCa(CaOptions options, EvpPkeyPtr ca_key, X509Ptr certificate, std::string certificate_pem,
        EvpPkeyPtr leaf_key, TimePoint not_after);

  TimePoint now() const;
  Result<std::shared_ptr<const Leaf>> mint(const LeafHost& host, TimePoint now) const;

  const CaOptions options_;
  const EvpPkeyPtr ca_key_;  // memory only: no accessor, no serialisation
  const X509Ptr certificate_;
  const std::string certificate_pem_;
  const EvpPkeyPtr leaf_key_;
  const TimePoint not_after_;

  mutable std::mutex mutex_;  // guards the cache and the counters
  LeafCache cache_;
  std::uint64_t mint_count_ = 0;
  std::uint64_t hit_count_ = 0;
};

}  // namespace cgfw::ca
