#!/bin/sh
# Installs the Debian 12 packages sluice needs, only those missing.
# usage: scripts/deps.sh build|test
set -eu
build="cmake make clang pkg-config libuv1-dev libssl-dev libyaml-dev libcjson-dev libsrtp2-dev libusrsctp-dev
  libopus-dev libavcodec-dev"
test="$build libcmocka-dev libclang-rt-14-dev python3 ffmpeg rtmpdump chromium
  gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav nginx libnginx-mod-rtmp"
case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Node may come from elsewhere than Debian (with its own npm): only its commands matter.
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null; then missing="$missing nodejs npm"; fi
if [ -n "$missing" ]; then
    echo "installing:$missing"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
    # The tests run their own nginx (the relay and benchmark peer) on loopback ports:
    # the system service Debian starts on port 80 is not wanted.
    case " $missing " in *" nginx "*)
        if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
            $sudo systemctl disable --now nginx
        fi ;;
    esac
fi
# The browser tests' npm packages (playwright-core drives Debian's chromium, mpegts.js
# plays HTTP-FLV), exactly as the lockfile says.
browser="$(dirname "$0")/../tests/browser"
stamp="$browser/node_modules/.installed-lock.json"
if [ "${1:-build}" = test ] && ! cmp -s "$browser/package-lock.json" "$stamp"; then
    npm ci --no-audit --no-fund --prefix "$browser"
    cp "$browser/package-lock.json" "$stamp"
fi
