// The run's Journal: every event, deduplicated, in the order first seen.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

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
  bool record(const Event& event);

  const std::vector<Event>& events() const { return events_; }
  Totals totals() const;

 private:
  // decision, would_block, layer, protocol, ip, port, domain, url, path, qtype, pid. The path is
  // what tells unix_socket and device events apart: they have no address or port.
  using Key = std::tuple<int, bool, int, std::string, std::string, int, std::string, std::string,
                         std::string, std::string, int>;
  std::vector<Event> events_;
  std::map<Key, std::size_t> index_;
};

}  // namespace cgfw::reports
