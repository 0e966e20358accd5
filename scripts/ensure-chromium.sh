#!/usr/bin/env bash
# The status-page e2e test drives a real headless browser: Debian's chromium package.
# Fails loudly when it cannot be installed: that test is never skipped.
set -euo pipefail
if [ -n "${CHROMIUM_BIN:-}" ] && [ -x "$CHROMIUM_BIN" ]; then
  echo "ensure-chromium: $CHROMIUM_BIN"
  exit 0
fi
if command -v chromium >/dev/null 2>&1; then
  echo "ensure-chromium: $(chromium --version 2>/dev/null | head -n 1)"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: chromium is missing; install Debian's 'chromium' package (needs root and apt-get) or set CHROMIUM_BIN" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version 2>/dev/null | head -n 1
