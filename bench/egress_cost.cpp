// E1 and E3: what the egress program costs per packet, through BPF_PROG_TEST_RUN with a repeat
// count (the kernel times the loop and reports the mean), on the real program loaded by the real
// loader with allow lists of several sizes; and how long loading and filling those lists takes.
// A one-instruction cgroup_skb program that passes everything is the floor.
//
// Prints one JSON object per line: {"id", "what", "rules", "ns_per_packet" | "ms"}.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "policy/parser.h"
#include "runner/data_plane.h"
#include "runner/ip_allow_table.h"
#include "tests/support/packets.h"

namespace {

using cgfw::testing::make_packet;
using cgfw::testing::PacketSpec;

constexpr unsigned kRepeat = 1'000'000;
constexpr int kRounds = 5;  // the median of these is reported, with min and max

// Mean ns per run over kRepeat runs, `kRounds` times.
std::vector<double> time_program(int program_fd, const PacketSpec& spec) {
  auto packet = make_packet(spec);
  std::vector<double> rounds;
  for (int round = 0; round < kRounds; ++round) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet.data(),
                .data_size_in = static_cast<__u32>(packet.size()), .repeat = kRepeat);
    if (bpf_prog_test_run_opts(program_fd, &opts) != 0) return {};
    rounds.push_back(static_cast<double>(opts.duration));
  }
  return rounds;
}

// One line per measurement, every round's value in it (bench/summarize.py's input).
void print(const char* id, const std::string& what, const std::vector<double>& values,
           const char* unit) {
  if (values.empty()) {
    std::printf("{\"id\":\"%s\",\"what\":\"%s\",\"error\":\"test run failed\"}\n", id,
                what.c_str());
    return;
  }
  std::printf("{\"id\":\"%s\",\"what\":\"%s\",\"unit\":\"%s\",\"values\":[", id, what.c_str(),
              unit);
  for (std::size_t i = 0; i < values.size(); ++i) std::printf("%s%.1f", i ? "," : "", values[i]);
  std::printf("]}\n");
  std::fflush(stdout);
}

// The floor: r0 = 1; exit.
int load_empty_program() {
  bpf_insn program[2] = {};
  program[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  program[0].dst_reg = BPF_REG_0;
  program[0].imm = 1;
  program[1].code = BPF_JMP | BPF_EXIT;
  return bpf_prog_load(BPF_PROG_TYPE_CGROUP_SKB, "empty", "GPL", program, 2, nullptr);
}

// `count` rules: the allowed address first, then distinct /32s in 10.0.0.0/8 on port 443.
cgfw::policy::Policy rules_of_size(std::size_t count) {
  cgfw::policy::Policy policy;
  auto add = [&](const std::string& text) {
    auto parsed = cgfw::policy::parse_rule(text, "bench");
    cgfw::policy::append_rules(policy, parsed.rules);
  };
  add("198.51.100.10:443");
  for (std::size_t i = 1; i < count; ++i) {
    char address[INET_ADDRSTRLEN];
    std::snprintf(address, sizeof(address), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255,
                  i & 255);
    add(std::string(address) + ":443");
  }
  return policy;
}

}  // namespace

// With "floor": only the empty program (bench/run.sh runs it again with bpf_stats on, to know
// what the statistics themselves cost per run).
int main(int argc, char** argv) {
  bool floor_only = argc > 1 && std::string(argv[1]) == "floor";
  using Clock = std::chrono::steady_clock;
  PacketSpec allowed;
  allowed.destination = "198.51.100.10";
  PacketSpec denied;
  denied.destination = "203.0.113.10";

  int empty = load_empty_program();
  if (empty < 0) {
    std::perror("loading the empty program (root needed)");
    return 1;
  }
  print("E1", floor_only ? "empty program (floor, bpf_stats on)" : "empty program (floor)",
        time_program(empty, allowed), "ns/packet");
  if (floor_only) return 0;

  for (std::size_t count : {std::size_t{10}, std::size_t{1000}, std::size_t{100000}}) {
    auto policy = rules_of_size(count);
    auto started = Clock::now();
    auto table = cgfw::runner::build_ip_allow_table(policy);
    cgfw::runner::DataPlaneConfig config;
    config.ip_entries = table ? table->size() : 0;
    auto plane = cgfw::runner::DataPlane::make(config);
    if (!table || !plane || !(*plane)->fill_ip_allow(*table)) {
      std::fprintf(stderr, "cannot load %zu rules\n", count);
      return 1;
    }
    double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    auto rules = ", " + std::to_string(count) + " rules";
    print("E3", "load and fill" + rules, {load_ms}, "ms");
    int program = (*plane)->egress_prog_fd();
    // The first run of each path writes its flow event; the repeats then take the per-packet
    // path of a flow already on record (the common case: one event per flow, never per packet).
    print(count == 10 ? "E1" : "E3", "allow path" + rules, time_program(program, allowed),
          "ns/packet");
    print(count == 10 ? "E1" : "E3", "deny path" + rules, time_program(program, denied),
          "ns/packet");
  }
  return 0;
}
