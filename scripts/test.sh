#!/usr/bin/env bash
# scripts/test.sh - builds coronet twice and runs every test in both builds:
#   build/       g++,     -Wall -Wextra -Werror, optimised (LTO) with debug info
#   build-asan/  clang++, -Wall -Wextra -Werror, AddressSanitizer + UBSan
# Every test: doctest unit and simulated-network tests, and the namespace
# (lab) tests against the kernel's TCP. Those need root: without it they are
# reported as skipped; as root (CI) nothing has a reason to skip, so a skipped
# test counts as failed, and the tests that would skip fail instead
# (CORONET_REQUIRE_LAB=1). Prints ctest's summary per build, then one line:
#   N passed, N failed, N skipped
# Usage: scripts/test.sh [--quick]   (--quick: the g++ build only)
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,/^# Usage/p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$a'" >&2; grep -m1 '^# Usage' "$0" >&2; exit 2 ;;
  esac
done

scripts/setup.sh || exit 1
jobs=$(nproc)
as_root=0
if [ "$(id -u)" -eq 0 ]; then
  as_root=1
  export CORONET_REQUIRE_LAB=1  # tests/lab/lib.sh, tests/io/veth_lab.hpp: fail rather than skip
fi
passed=0
failed=0
skipped=0

run_build() {  # dir, compiler, extra cmake args...
  local dir=$1 cxx=$2
  shift 2
  echo "=== $dir ($cxx $*) ==="
  if ! cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"; echo "configure failed: $dir"; failed=$((failed + 1)); return
  fi
  if ! ninja -C "$dir" -j "$jobs"; then
    echo "build failed: $dir"; failed=$((failed + 1)); return
  fi
  local log=$dir/ctest.log
  (cd "$dir" && ctest --output-on-failure --timeout 600) 2>&1 | tee "$log"
  local total fail
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  fail=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  if [ -z "$total" ]; then
    echo "ctest printed no summary in $dir"; failed=$((failed + 1)); return
  fi
  # The skipped tests are the "(Skipped)" entries of ctest's own list of
  # tests that did not run, not every line a failing test printed.
  local skip
  skip=$(awk '/^The following tests did not run:/ { on = 1; next }
              on && /^[[:space:]]*$/ { on = 0 }
              on && / \(Skipped\)$/ { n++ }
              END { print n + 0 }' "$log")
  passed=$((passed + total - fail - skip))
  failed=$((failed + fail))
  if [ "$as_root" -eq 1 ] && [ "$skip" -gt 0 ]; then
    echo "as root no test has a reason to skip: $skip skipped in $dir count as failed"
    failed=$((failed + skip))
  else
    skipped=$((skipped + skip))
  fi
}

mkdir -p build build-asan
run_build build g++
if [ $quick -eq 0 ]; then
  # Leaks are errors, and any report aborts the process, so a test fails.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_build build-asan clang++ -DCORONET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
