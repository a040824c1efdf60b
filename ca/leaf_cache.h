// A minted leaf certificate and the bounded cache that keeps them, so a host's second connection
// costs a lookup instead of a signature (sslsplit and mitmproxy do the same).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ca/openssl_handles.h"

namespace cgfw::ca {

// One leaf: its certificate and the leaf key every leaf of the run shares. Immutable and
// self-contained: it holds its own references, so it stays usable after the cache evicts it or
// the RunCa that minted it is gone (a connection may outlive either).
class Leaf {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // Leaves come from RunCa::leaf_for; `key` gains a reference here (EVP_PKEY_up_ref).
  Leaf(std::string host, X509Ptr certificate, EVP_PKEY* key, TimePoint not_before,
       TimePoint not_after);

  // The canonical host the leaf is for ("example.com", "198.51.100.10", "2001:db8::10").
  const std::string& host() const { return host_; }
  // For SSL_use_certificate / SSL_CTX_use_certificate (they take their own reference).
  X509* certificate() const { return certificate_.get(); }
  // The shared leaf key, for SSL_use_PrivateKey (it takes its own reference).
  EVP_PKEY* key() const { return key_.get(); }
  TimePoint not_before() const { return not_before_; }
  TimePoint not_after() const { return not_after_; }

  // True when the leaf is valid at `now` and stays valid for at least `margin`: a cache hit must
  // not hand out a certificate that expires during the handshake it is used for.
  bool valid_for(TimePoint now, std::chrono::seconds margin) const;

 private:
  std::string host_;
  X509Ptr certificate_;
  EvpPkeyPtr key_;
  TimePoint not_before_;
  TimePoint not_after_;
};

// A least-recently-used map host -> leaf holding at most `capacity` leaves. Not thread-safe:
// RunCa serialises access.
class LeafCache {
 public:
  explicit LeafCache(std::size_t capacity);

  // The cached leaf for `host` (which becomes the most recently used), or null.
  std::shared_ptr<const Leaf> find(std::string_view host);
  // Adds or replaces the leaf for leaf->host(); evicts the least recently used beyond capacity.
  void insert(std::shared_ptr<const Leaf> leaf);
  void erase(std::string_view host);

  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  using Order = std::list<std::shared_ptr<const Leaf>>;  // most recently used first

  std::size_t capacity_;
  Order order_;
  // Keys view the host string inside each leaf, which lives as long as its entry.
  std::unordered_map<std::string_view, Order::iterator> index_;
};

}  // namespace cgfw::ca
