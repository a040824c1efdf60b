#pragma once

// Test fixture: a network namespace playing "the internet" (tests/fixtures/fake-internet.sh)
// with a logging sink server (tests/fixtures/sink_server.py) on fixed documentation addresses.
// Needs root. Only one fake internet can be up at a time (the addresses are fixed), so tests
// using it must not run in parallel with each other.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cgfw::testing {

struct CommandResult {
  int exit_code = -1;  // exit status, 128 + signal if killed, -1 if it could not be started
  std::string out;
  std::string err;
};

// Runs argv (argv[0] looked up in PATH) without a shell, capturing stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv);

// Path of the fixture script, from the compile definition CGFW_SOURCE_DIR (the repo root).
std::string fixture_script_path();

class FakeInternet {
 public:
  static constexpr const char* kHostV4 = "198.51.100.1";
  static constexpr const char* kServerV4 = "198.51.100.10";
  static constexpr const char* kServerV4b = "198.51.100.11";
  static constexpr const char* kServerV4c = "198.51.100.12";
  static constexpr const char* kServerV4d = "198.51.100.13";
  // Not on the veth subnet: reached through a route, like a real remote host.
  static constexpr const char* kFarV4 = "203.0.113.10";
  static constexpr const char* kFarV4b = "203.0.113.11";
  static constexpr const char* kHostV6 = "2001:db8::1";
  static constexpr const char* kServerV6 = "2001:db8::10";
  static constexpr const char* kServerV6b = "2001:db8::11";
  static constexpr const char* kFarV6 = "2001:db8:1::10";
  // The authoritative DNS server of the fake internet (tests/fixtures/dns_server.py).
  static constexpr const char* kDnsV4 = "198.51.100.53";
  static constexpr const char* kDnsV6 = "2001:db8::53";

  // Brings the namespace up (the script's `up`, which first cleans any earlier crashed run).
  // Throws std::runtime_error carrying the script's stderr on failure.
  static std::unique_ptr<FakeInternet> up(std::string name = "cgfwfi");

  // Runs the script's `down`; never throws.
  ~FakeInternet();

  FakeInternet(const FakeInternet&) = delete;
  FakeInternet& operator=(const FakeInternet&) = delete;
  FakeInternet(FakeInternet&&) = delete;
  FakeInternet& operator=(FakeInternet&&) = delete;

  // Every complete line of sink.jsonl, parsed; a line still being written is skipped.
  std::vector<nlohmann::json> sink_log() const;

  // The DNS server's query log (dns.jsonl): {time, transport, peer, name, qtype} per query.
  std::vector<nlohmann::json> dns_log() const;
  // Queries the DNS server received for `name` (compared lower-case).
  std::vector<nlohmann::json> dns_queries_for(const std::string& name) const;

  // Entries whose local_ip == ip, and local_port == port unless port is 0, and proto == proto
  // ("tcp" / "udp") unless proto is empty.
  std::vector<nlohmann::json> hits(const std::string& ip, int port = 0,
                                   const std::string& proto = "") const;

  // Polls the log every 20 ms until hits(ip, port) has at least count entries or limit passes.
  // The server logs a TCP connection when it closes, so a client exiting does not mean its
  // line is there yet.
  bool wait_for_hits(const std::string& ip, int port, std::size_t count,
                     std::chrono::milliseconds limit) const;

  void clear_log();

  const std::string& name() const;
  std::string state_dir() const;

  // Runs argv inside the namespace (`ip netns exec`), inheriting stdio; returns its exit code
  // (128 + signal if killed, -1 if it could not be started).
  int exec_in_namespace(const std::vector<std::string>& argv) const;

 private:
  explicit FakeInternet(std::string name);
  std::vector<nlohmann::json> read_log(const std::string& file_name) const;

  std::string name_;
};

}  // namespace cgfw::testing
