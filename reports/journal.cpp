#include "reports/journal.h"

#include <functional>
#include <type_traits>
#include <utility>

namespace cgfw::reports {

const char* to_string(Decision decision) {
  return decision == Decision::allowed ? "allowed" : "blocked";
}

const char* to_string(Layer layer) {
  switch (layer) {
    case Layer::packet:
      return "packet";
    case Layer::dns:
      return "dns";
    case Layer::tls:
      return "tls";
    case Layer::http:
      return "http";
    case Layer::unix_socket:
      return "unix";
    case Layer::device:
      return "device";
  }
  return "packet";
}

std::size_t Journal::KeyHash::operator()(const Key& key) const {
  std::size_t seed = 0;
  // boost::hash_combine's mixing: cheap, and good enough for a table whose keys the sandbox
  // chooses only in part (a colliding flood costs time, never correctness).
  auto mix = [&seed](std::size_t value) {
    seed ^= value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  };
  std::apply(
      [&](const auto&... field) { (mix(std::hash<std::decay_t<decltype(field)>>{}(field)), ...); },
      key);
  return seed;
}

bool Journal::record(Event event) {
  Key key{static_cast<int>(event.decision),
          event.would_block,
          static_cast<int>(event.layer),
          event.protocol,
          event.ip,
          event.port,
          event.domain.value_or(""),
          event.url.value_or(""),
          event.path.value_or(""),
          event.qtype.value_or(""),
          event.process.pid};
  auto [it, inserted] = index_.try_emplace(key, events_.size());
  if (!inserted) {
    auto& known = events_[it->second];
    known.count += event.count;
    if (event.bytes_up) known.bytes_up = known.bytes_up.value_or(0) + *event.bytes_up;
    if (event.bytes_down) known.bytes_down = known.bytes_down.value_or(0) + *event.bytes_down;
    return false;
  }
  events_.push_back(std::move(event));
  return true;
}

Totals Journal::totals() const {
  Totals totals;
  for (const auto& event : events_) {
    if (event.decision == Decision::blocked)
      ++totals.blocked;
    else
      ++totals.allowed;
    if (event.would_block) ++totals.would_block;
  }
  return totals;
}

}  // namespace cgfw::reports
