#include "runner/announcer.h"

namespace cgfw::runner {

std::string format_block_line(const reports::Event& event) {
  std::string who = event.process.comm.empty() ? "unknown process" : event.process.comm;
  who += "[" + std::to_string(event.process.pid) + "]";
  if (!event.process.exe.empty())
    who += " " + event.process.exe;
  else if (event.process.gone)
    who += " (exited before it could be read)";
  if (const auto& container = event.process.container)
    who += " in container " +
           (container->name.empty() ? container->id.substr(0, 12) : container->name);

  bool unix_socket = event.layer == reports::Layer::unix_socket;
  bool device = event.layer == reports::Layer::device;
  std::string where;
  if (unix_socket || device) {
    where = event.path.value_or("(unknown path)") +
            (unix_socket ? " (unix socket)"
                         : " (" + (event.protocol.empty() ? "" : event.protocol + " ") + "device)");
  } else if (event.layer == reports::Layer::http && event.url) {
    where = (event.method ? *event.method + " " : std::string()) + *event.url + " (" +
            (event.ip.find(':') != std::string::npos ? "[" + event.ip + "]" : event.ip) + ")";
  } else if (event.layer == reports::Layer::dns) {
    where = (event.domain ? *event.domain : std::string("(unparsable query)")) + " " +
            event.qtype.value_or("");
  } else {
    where = event.domain ? *event.domain + " (" + event.ip + ")" : event.ip;
    if (event.ip.find(':') != std::string::npos && !event.domain) where = "[" + event.ip + "]";
    if (event.port) where += ":" + std::to_string(event.port);
    where += "/" + event.protocol;
  }

  std::string line = "cgfw: blocked " + who + " -> " + where + " at " +
                     reports::to_string(event.layer) +
                     " layer: " + event.reason.value_or("blocked");
  // A unix socket is opened by an option, not a rule line; a device by neither (no suggestion).
  if (unix_socket && (event.suggested_rule || event.path))
    line += "; to allow it, run with: " +
            event.suggested_rule.value_or("--allow-unix " + event.path.value_or(""));
  else if (!unix_socket && !device && event.suggested_rule)
    line += "; to allow it, add the rule: " + *event.suggested_rule;
  else if (event.reason && event.reason->starts_with("denied by the deny rule"))
    line += "; to allow it, remove that deny rule";
  return line;
}

void Announcer::on_event(const reports::Event& event) {
  if (quiet_ || event.decision != reports::Decision::blocked) return;
  // The destination: a name for DNS, the socket file or device node for unix and device events
  // (which have no address), else the address.
  std::string destination = event.ip;
  if (event.layer == reports::Layer::dns)
    destination = event.domain.value_or("");
  else if (event.layer == reports::Layer::unix_socket || event.layer == reports::Layer::device)
    destination = event.path.value_or("");
  auto key =
      std::make_tuple(event.process.exe.empty() ? event.process.comm : event.process.exe,
                      destination, event.port, event.protocol, static_cast<int>(event.layer));
  if (!announced_.insert(key).second) return;
  std::fprintf(out_, "%s\n", format_block_line(event).c_str());
  std::fflush(out_);
}

}  // namespace cgfw::runner
