#!/bin/sh
# Builds with ASan+UBSan and the fuzzers (clang, -Werror) and runs every test:
# unit (cmocka), fuzz (a short libFuzzer run per parser), end-to-end (real clients).
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
cmake -S . -B build/test -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DSLUICE_SANITIZE=ON -DSLUICE_FUZZ=ON -DSLUICE_WERROR=ON >/dev/null
cmake --build build/test -j"$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd build/test
exec ctest --output-on-failure -j"$(nproc)" "$@"
