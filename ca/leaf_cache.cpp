#include "ca/leaf_cache.h"

#include <utility>

namespace cgfw::ca {

Leaf::Leaf(std::string host, X509Ptr certificate, EVP_PKEY* key, TimePoint not_before,
           TimePoint not_after)
    : host_(std::move(host)),
      certificate_(std::move(certificate)),
      key_(key),
      not_before_(not_before),
      not_after_(not_after) {
  // Cannot fail: it is an atomic increment. Balanced by EvpPkeyPtr's EVP_PKEY_free.
  if (key_) EVP_PKEY_up_ref(key_.get());
}

bool Leaf::valid_for(TimePoint now, std::chrono::seconds margin) const {
  return not_before_ <= now && now + margin <= not_after_;
}

LeafCache::LeafCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

std::shared_ptr<const Leaf> LeafCache::find(std::string_view host) {
  const auto found = index_.find(host);
  if (found == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, found->second);
  return *found->second;
}

void LeafCache::insert(std::shared_ptr<const Leaf> leaf) {
  erase(leaf->host());
  order_.push_front(std::move(leaf));
  index_.emplace(order_.front()->host(), order_.begin());
  while (index_.size() > capacity_) {
    index_.erase(order_.back()->host());
    order_.pop_back();
  }
}

void LeafCache::erase(std::string_view host) {
  const auto found = index_.find(host);
  if (found == index_.end()) return;
  const Order::iterator entry = found->second;
  index_.erase(found);  // before the leaf (and the string the key views) goes
  order_.erase(entry);
}

}  // namespace cgfw::ca
