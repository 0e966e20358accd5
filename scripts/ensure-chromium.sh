#!/usr/bin/env bash
# The status-page e2e test drives a real headless browser: Debian's chromium package
# (or CHROMIUM_BIN, when set to an executable).
set -euo pipefail
if [ -n "${CHROMIUM_BIN:-}" ] && [ -x "$CHROMIUM_BIN" ]; then
  echo "ensure-chromium: $CHROMIUM_BIN"
  exit 0
fi
exec bash "$(dirname "$0")/ensure-debian-package.sh" chromium chromium
