#!/usr/bin/env bash
# promtool checks deploy/prometheus in the tests; it comes with Debian's prometheus package.
# Fails loudly when it cannot be installed: those tests are never skipped.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  echo "ensure-promtool: $(promtool --version 2>&1 | head -n 1)"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-promtool: promtool is missing; install Debian's 'prometheus' package (needs root and apt-get)" >&2
  exit 1
fi
echo "ensure-promtool: installing Debian's prometheus package for promtool"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
promtool --version 2>&1 | head -n 1
