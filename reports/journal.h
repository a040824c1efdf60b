// The run's Journal: every event, deduplicated, in the order first seen.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <tuple>
#include <unordered_map>

#include "reports/event.h"

namespace cgfw::reports {

struct Totals {
  std::uint64_t allowed = 0;  // distinct events
  std::uint64_t blocked = 0;
  std::uint64_t would_block = 0;
};

class Journal {
 public:
  // Records `event`, or adds to the count of an identical earlier one (same decision, layer,
  // protocol, destination, domain, url, path and pid). Returns true if it was new.
  // Taken by value: the caller moves an event it no longer needs, and a repeat costs no copy.
  bool record(Event event);

  const std::deque<Event>& events() const { return events_; }
  Totals totals() const;

 private:
  // decision, would_block, layer, protocol, ip, port, domain, url, path, qtype, pid. The path is
  // what tells unix_socket and device events apart: they have no address or port.
  using Key = std::tuple<int, bool, int, std::string, std::string, int, std::string, std::string,
                         std::string, std::string, int>;
  struct KeyHash {
    std::size_t operator()(const Key& key) const;
  };
  // A deque: a run of a million distinct names never relocates the events already recorded.
  std::deque<Event> events_;
  std::unordered_map<Key, std::size_t, KeyHash> index_;
};

}  // namespace cgfw::reports
