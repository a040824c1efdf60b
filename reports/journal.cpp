#include "reports/journal.h"

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

bool Journal::record(const Event& event) {
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
  events_.push_back(event);
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
