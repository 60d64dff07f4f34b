#!/bin/sh
# Runs one libFuzzer target for a bounded time over its seed corpus.
# usage: run.sh FUZZER SEED_DIR SECONDS
set -eu
fuzzer=$1 seeds=$2 seconds=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Crash inputs land in the scratch folder; copy them to the seed folder to keep them.
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$scratch/" "$scratch" "$seeds"
