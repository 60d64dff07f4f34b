#!/bin/sh
# Builds sluice (release) and runs it on config/sluice.yaml, or on the file given.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)"
exec build/release/sluice -c "${1:-config/sluice.yaml}"
