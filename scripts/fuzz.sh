#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 20)
# from its seed corpus in tests/fuzz/corpus/. A crash leaves its input in build-fuzz/ and fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
out="$root/build-fuzz"
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I"$root")

# Each target is built in the background (they are independent; CI has two cores), then each
# fuzzer runs, as many at once as there are cores.
builds=()
build() {
  local target=$1
  shift
  clang++ "${flags[@]}" "$@" -o "$out/${target}_fuzz" >"$out/$target.build.log" 2>&1 &
  builds+=("$!:$target")
}

build rule_parser "$root"/policy/*.cpp "$root/tests/fuzz/rule_parser_fuzz.cpp" -lidn2 -lpsl

dns_wire=("$root/proxy/dns/name.cpp" "$root/proxy/dns/message.cpp" "$root/proxy/dns/answer.cpp")
build dns_query "${dns_wire[@]}" "$root/tests/fuzz/dns_query_fuzz.cpp"
build dns_answer "${dns_wire[@]}" "$root/tests/fuzz/dns_answer_fuzz.cpp"
build client_hello "$root/proxy/tls/client_hello.cpp" "$root/tests/fuzz/client_hello_fuzz.cpp"
build http_request "$root"/proxy/http/*.cpp "$root"/policy/*.cpp \
  "$root/tests/fuzz/http_request_fuzz.cpp" -lhttp_parser -lidn2 -lpsl

# What `cgfw report show|sarif` and `cgfw policy suggest` make of a report file.
version=$(sed -n 's/^project(cgfw VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
report_reader=("$root"/reports/{report_view,findings,markdown,policy_suggest,sarif}.cpp)
build report_reader -DCGFW_VERSION="\"$version\"" "${report_reader[@]}" "$root"/policy/*.cpp \
  "$root/tests/fuzz/report_reader_fuzz.cpp" -lidn2 -lpsl

# What the control socket makes of a line from `cgfw ctl` (or anything else that connects).
build control_request "$root/runner/control_request.cpp" "$root/runner/container_identity.cpp" \
  "$root"/policy/*.cpp "$root/tests/fuzz/control_request_fuzz.cpp" -lidn2 -lpsl

failed=0
for build_job in "${builds[@]}"; do
  if ! wait "${build_job%%:*}"; then
    echo "fuzz.sh: building ${build_job#*:}_fuzz failed:" >&2
    cat "$out/${build_job#*:}.build.log" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] || exit 1

run_fuzzer() {
  local target=$1
  local corpus="$out/corpus-$target"
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/corpus/$target/"* "$corpus/" 2>/dev/null || true
  (cd "$out" && "./${target}_fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=5 \
    -print_final_stats=1 "$corpus" >"$out/$target.fuzz.log" 2>&1)
}

targets=(rule_parser dns_query dns_answer client_hello http_request report_reader control_request)
parallel=$(nproc)
for ((first = 0; first < ${#targets[@]}; first += parallel)); do
  batch=("${targets[@]:first:parallel}")
  runs=()
  for target in "${batch[@]}"; do
    echo "== fuzz $target for ${seconds}s"
    run_fuzzer "$target" &
    runs+=("$!")
  done
  for index in "${!batch[@]}"; do
    status=0
    wait "${runs[$index]}" || status=$?
    tail -n 12 "$out/${batch[$index]}.fuzz.log"
    if [ "$status" -ne 0 ]; then
      echo "fuzz.sh: ${batch[$index]}_fuzz failed (exit $status); its input is in $out" >&2
      failed=1
    fi
  done
done
exit "$failed"
