#!/usr/bin/env bash
# Installs what the benchmarks measure with: the public Debian image corpus, wrk, and
# what Meta's vpdq (the video peer, built from source by pip) compiles against: FFmpeg's
# libraries and headers.
set -euo pipefail
packages="gnome-backgrounds mate-backgrounds sway-backgrounds openclipart-png opencv-doc wrk
  pkg-config cmake g++ libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev
  libswresample-dev libswscale-dev libavutil-dev"
missing=""
for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
# A registry hiccup should not fail a CI run: try a few times before giving up.
for attempt in 1 2 3; do
  if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing; then
    exit 0
  fi
  echo "apt-get failed (attempt $attempt); retrying" >&2
  sleep $((attempt * 10))
done
exit 1
