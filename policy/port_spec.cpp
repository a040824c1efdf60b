#include "policy/port_spec.h"

#include <algorithm>
#include <string>

namespace cgfw::policy {
namespace {

constexpr std::uint32_t kMaxPort = 65535;

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return out;
}

Result<PortRange> parse_port_item(std::string_view item, Transport transport) {
  if (item.empty()) return make_error("empty entry in the port list (a stray ',')");
  const std::size_t dash = item.find('-');
  if (dash == std::string_view::npos) {
    Result<std::uint16_t> port = parse_port_number(item);
    if (!port) return port.error();
    return PortRange{*port, *port, transport};
  }
  const std::string_view first_text = item.substr(0, dash);
  const std::string_view last_text = item.substr(dash + 1);
  if (first_text.empty() || last_text.empty() || last_text.find('-') != std::string_view::npos) {
    return make_error("'" + std::string(item) +
                      "' is not a port range; write FIRST-LAST, as in '8000-8100'");
  }
  Result<std::uint16_t> first = parse_port_number(first_text);
  if (!first) return first.error();
  Result<std::uint16_t> last = parse_port_number(last_text);
  if (!last) return last.error();
  if (*first > *last) {
    return make_error("port range " + std::string(item) + " is reversed; write " +
                      std::string(last_text) + "-" + std::string(first_text));
  }
  return PortRange{*first, *last, transport};
}

}  // namespace

Result<std::uint16_t> parse_port_number(std::string_view text) {
  if (text.empty()) return make_error("empty port");
  if (!is_digits(text)) return make_error("'" + std::string(text) + "' is not a port number");
  // Compare the length first so a long digit string cannot overflow the conversion.
  const std::string_view significant =
      text.substr(std::min(text.find_first_not_of('0'), text.size()));
  if (significant.size() > 5 || std::stoul(std::string(text)) > kMaxPort) {
    return make_error("port " + std::string(text) + " is out of range (ports are 1-65535)");
  }
  const auto port = static_cast<std::uint16_t>(std::stoul(std::string(text)));
  if (port == 0) return make_error("port 0 is not allowed (ports are 1-65535)");
  return port;
}

Result<std::vector<PortRange>> parse_port_spec(std::string_view spec) {
  Transport transport = Transport::tcp;
  std::string_view list = spec;
  if (const std::size_t slash = spec.find('/'); slash != std::string_view::npos) {
    list = spec.substr(0, slash);
    const std::string name = lower(spec.substr(slash + 1));
    if (name == "udp") {
      transport = Transport::udp;
    } else if (name.empty()) {
      return make_error("'/' after the ports must be followed by 'tcp' or 'udp'");
    } else if (name != "tcp") {
      return make_error("unknown transport '" + std::string(spec.substr(slash + 1)) +
                        "' (use '/tcp' or '/udp')");
    }
  }
  if (list.empty()) {
    return make_error("':' must be followed by ports, as in ':443', ':80,443' or ':8000-8100'");
  }
  std::vector<PortRange> ports;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = list.find(',', start);
    const std::string_view item = list.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    Result<PortRange> range = parse_port_item(item, transport);
    if (!range) return range.error();
    ports.push_back(*range);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return ports;
}

}  // namespace cgfw::policy
