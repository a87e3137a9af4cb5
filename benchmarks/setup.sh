#!/usr/bin/env bash
# Installs what the benchmarks measure with: the public Debian image corpus and wrk.
set -euo pipefail
packages="gnome-backgrounds mate-backgrounds sway-backgrounds openclipart-png opencv-doc wrk"
missing=""
for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
