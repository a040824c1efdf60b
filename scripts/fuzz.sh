#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 20)
# from its seed corpus in tests/fuzz/corpus/. A crash leaves its input in build-fuzz/ and fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
out="$root/build-fuzz"
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I"$root")

clang++ "${flags[@]}" "$root"/policy/*.cpp "$root/tests/fuzz/rule_parser_fuzz.cpp" \
  -lidn2 -lpsl -o "$out/rule_parser_fuzz"

dns_wire=("$root/proxy/dns/name.cpp" "$root/proxy/dns/message.cpp" "$root/proxy/dns/answer.cpp")
clang++ "${flags[@]}" "${dns_wire[@]}" "$root/tests/fuzz/dns_query_fuzz.cpp" -o "$out/dns_query_fuzz"
clang++ "${flags[@]}" "${dns_wire[@]}" "$root/tests/fuzz/dns_answer_fuzz.cpp" -o "$out/dns_answer_fuzz"

clang++ "${flags[@]}" "$root/proxy/tls/client_hello.cpp" "$root/tests/fuzz/client_hello_fuzz.cpp" \
  -o "$out/client_hello_fuzz"
clang++ "${flags[@]}" "$root"/proxy/http/*.cpp "$root"/policy/*.cpp \
  "$root/tests/fuzz/http_request_fuzz.cpp" -lhttp_parser -lidn2 -lpsl -o "$out/http_request_fuzz"

# What `cgfw report show|sarif` and `cgfw policy suggest` make of a report file.
version=$(sed -n 's/^project(cgfw VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
report_reader=("$root"/reports/{report_view,findings,markdown,policy_suggest,sarif}.cpp)
clang++ "${flags[@]}" -DCGFW_VERSION="\"$version\"" "${report_reader[@]}" "$root"/policy/*.cpp \
  "$root/tests/fuzz/report_reader_fuzz.cpp" -lidn2 -lpsl -o "$out/report_reader_fuzz"

# What the control socket makes of a line from `cgfw ctl` (or anything else that connects).
clang++ "${flags[@]}" "$root/runner/control_request.cpp" "$root/runner/container_identity.cpp" \
  "$root"/policy/*.cpp \
  "$root/tests/fuzz/control_request_fuzz.cpp" -lidn2 -lpsl -o "$out/control_request_fuzz"

for target in rule_parser dns_query dns_answer client_hello http_request report_reader \
  control_request; do
  corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/corpus/$target/"* "$corpus/" 2>/dev/null || true
  echo "== fuzz $target for ${seconds}s"
  (cd "$out" && "./${target}_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=5 \
    -print_final_stats=1 "$corpus" 2>&1 | tail -n 12)
done
