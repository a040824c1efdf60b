#include "reports/json_report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

namespace cgfw::reports {

using nlohmann::json;

std::string iso8601(std::chrono::system_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds);
  std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buffer + n, sizeof(buffer) - n, ".%06lldZ", static_cast<long long>(micros.count()));
  return buffer;
}

json to_json(const Event& event) {
  json process = {
      {"pid", event.process.pid},
      {"exe", event.process.exe.empty() ? json(nullptr) : json(event.process.exe)},
      {"cmdline", event.process.cmdline},
      {"comm", event.process.comm},
      {"ppid", event.process.ppid},
      {"gone", event.process.gone},
  };
  json ancestors = json::array();
  for (const auto& a : event.process.ancestors)
    ancestors.push_back({{"pid", a.pid}, {"exe", a.exe.empty() ? json(nullptr) : json(a.exe)}});
  process["ancestors"] = ancestors;
  if (event.process.sandbox_pid > 0) process["sandbox_pid"] = event.process.sandbox_pid;
  if (const auto& container = event.process.container) {
    json described = {{"id", container->id}};
    if (!container->name.empty()) described["name"] = container->name;
    if (!container->image.empty()) described["image"] = container->image;
    process["container"] = described;
  }

  json out = {
      {"time", iso8601(event.time)},
      {"decision", to_string(event.decision)},
      {"would_block", event.would_block},
      {"layer", to_string(event.layer)},
      {"protocol", event.protocol},
      {"ip", event.ip},
      {"port", event.port},
      {"count", event.count},
      {"process", process},
  };
  if (event.domain) out["domain"] = *event.domain;
  if (event.url) out["url"] = *event.url;
  if (event.path) out["path"] = *event.path;
  if (event.qtype) out["qtype"] = *event.qtype;
  if (event.layer == Layer::dns) out["answers"] = event.answers;
  if (event.suspicious) out["suspicious"] = *event.suspicious;
  if (event.method) out["method"] = *event.method;
  if (event.status) out["status"] = *event.status;
  if (event.bytes_up) out["bytes_up"] = *event.bytes_up;
  if (event.bytes_down) out["bytes_down"] = *event.bytes_down;
  if (event.rule) out["rule"] = {{"text", event.rule->text}, {"location", event.rule->location}};
  if (event.reason) out["reason"] = *event.reason;
  if (event.suggested_rule) out["suggested_rule"] = *event.suggested_rule;
  return out;
}

json make_report(const RunInfo& run, const Journal& journal) {
  json rules = json::array();
  json sources = json::array();
  if (run.policy) {
    for (const auto& source : run.policy->sources) sources.push_back(source);
    for (const auto& rule : run.policy->rules) {
      json entry = {{"id", rule.id},
                    {"text", rule.text},
                    {"location", rule.where.to_string()},
                    {"effect", rule.effect == policy::Effect::deny ? "deny" : "allow"}};
      if (!rule.active) entry["removed"] = true;
      rules.push_back(std::move(entry));
    }
  }
  json timeline = json::array();
  for (const auto& change : run.timeline) {
    json entry = {{"time", iso8601(change.time)},
                  {"action", change.action},
                  {"by", change.by},
                  {"applied", change.applied},
                  {"message", change.message}};
    if (!change.argument.empty()) entry["argument"] = change.argument;
    timeline.push_back(std::move(entry));
  }

  json events = json::array();
  std::set<std::tuple<std::string, int, std::string, std::string>> destinations;
  json distinct = json::array();
  json names = json::array();
  std::set<std::string> seen_names;
  for (const auto& event : journal.events()) {
    events.push_back(to_json(event));
    if (event.layer == Layer::dns && event.domain && seen_names.insert(*event.domain).second)
      names.push_back({{"name", *event.domain},
                       {"decision", to_string(event.decision)},
                       {"would_block", event.would_block}});
    // Destinations are where packets went: not names, not unix sockets or devices (no address).
    if (event.layer == Layer::dns || event.layer == Layer::unix_socket ||
        event.layer == Layer::device)
      continue;
    auto key = std::make_tuple(event.ip, event.port, event.protocol, event.domain.value_or(""));
    if (destinations.insert(key).second) {
      json d = {{"ip", event.ip},
                {"port", event.port},
                {"protocol", event.protocol},
                {"decision", to_string(event.decision)}};
      if (event.domain) d["domain"] = *event.domain;
      distinct.push_back(d);
    }
  }
  Totals totals = journal.totals();
  json counters = json::object();
  for (const auto& [name, value] : run.kernel_counters) counters[name] = value;

  return {
      {"version", kReportVersion},
      {"tool", {{"name", "cgfw"}, {"version", CGFW_VERSION}}},
      {"mode", run.mode},
      {"command", run.command},
      {"exit_status", run.exit_status ? json(*run.exit_status) : json(nullptr)},
      {"signal", run.signal ? json(*run.signal) : json(nullptr)},
      {"cgfw_exit_status", run.cgfw_exit_status},
      {"started_at", iso8601(run.started_at)},
      {"ended_at", iso8601(run.ended_at)},
      {"policy",
       {{"sources", sources},
        {"rules", rules},
        {"default", run.policy && run.policy->default_allow ? "allow" : "block"}}},
      {"timeline", timeline},
      {"events", events},
      {"summary",
       {{"events", journal.events().size()},
        {"allowed", totals.allowed},
        {"blocked", totals.blocked},
        {"would_block", totals.would_block},
        {"destinations", distinct},
        {"names", names},
        {"kernel", counters}}},
      {"warnings", run.warnings},
  };
}

Status write_json_file(const std::string& path, const json& document) {
  // A fresh name made with O_EXCL (mkstemp): the job may be able to write the report's directory
  // while cgfw, root, writes (`cgfw ctl report`, attach modes), and must not get a symlink of its
  // own followed.
  std::string temp = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return make_error("cannot write the report " + path + ": " + std::strerror(errno));
  std::string text = document.dump(2) + "\n";
  const char* data = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return make_error("cannot write the report " + path + ": " + std::strerror(err));
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  ::fchmod(fd, 0644);
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return make_error("cannot write the report " + path + ": " + std::strerror(err));
  }
  return Ok{};
}

}  // namespace cgfw::reports
