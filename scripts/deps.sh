#!/bin/sh
# Installs the Debian 12 packages sluice needs, only those missing.
# usage: scripts/deps.sh build|test
set -eu
build="cmake make clang pkg-config libuv1-dev libssl-dev libyaml-dev libcjson-dev"
test="$build libcmocka-dev libclang-rt-14-dev python3 ffmpeg rtmpdump"
case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
