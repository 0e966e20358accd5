#!/usr/bin/env bash
# ensure-debian-package.sh COMMAND PACKAGE: makes sure COMMAND exists, installing Debian's
# PACKAGE when it does not. Fails loudly when it cannot: the tests that need it never skip.
set -euo pipefail
cmd=$1
pkg=$2
# Its version line: stdout when it prints one there (chromium's wrapper writes noise on stderr), else stderr.
version() {
  local v
  v=$("$cmd" --version 2>/dev/null | head -n 1 || true)
  [ -n "$v" ] || v=$("$cmd" --version 2>&1 | head -n 1 || true)
  echo "$v"
}
if command -v "$cmd" >/dev/null 2>&1; then
  echo "ensure $cmd: $(version)"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure $cmd: $cmd is missing; install Debian's '$pkg' package (needs root and apt-get)" >&2
  exit 1
fi
echo "ensure $cmd: installing Debian's $pkg package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
echo "ensure $cmd: $(version)"
