// T4 (bench/tls.sh): what minting a leaf costs cgfw's run CA, timed in process around
// RunCa::leaf_for: 1,000 names never seen (each a signature), then the same names again (cache
// hits). End to end, a first contact's extra ~0.1 ms drowns in a TLS handshake's noise
// (bench/tls_client's "mint" mode reports both handshakes for context).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ca/run_ca.h"

namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

void print(const char* what, double value) {
  std::printf("{\"id\":\"T4\",\"what\":\"%s\",\"unit\":\"ms\",\"value\":%.4f}\n", what, value);
}

}  // namespace

int main() {
  cgfw::ca::CaOptions options;
  options.permitted_dns = {"bench.test"};
  options.leaf_cache_size = 2048;
  auto ca = cgfw::ca::RunCa::make(options);
  if (!ca) {
    std::fprintf(stderr, "mint_cost: %s\n", ca.error().message.c_str());
    return 1;
  }
  constexpr int kNames = 1000;
  std::vector<double> first, again;
  for (auto* pass : {&first, &again}) {
    for (int i = 0; i < kNames; ++i) {
      std::string host = "n" + std::to_string(i) + ".bench.test";
      auto start = Clock::now();
      auto leaf = (*ca)->leaf_for(host);
      pass->push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (!leaf) {
        std::fprintf(stderr, "mint_cost: %s: %s\n", host.c_str(), leaf.error().message.c_str());
        return 1;
      }
    }
  }
  print("mint p50, 1k distinct names", percentile(first, 0.5));
  print("mint p99, 1k distinct names", percentile(first, 0.99));
  print("cache hit p50", percentile(again, 0.5));
  std::fprintf(stderr, "mint_cost: %llu minted, %llu cache hits\n",
               static_cast<unsigned long long>((*ca)->mint_count()),
               static_cast<unsigned long long>((*ca)->hit_count()));
  return 0;
}
