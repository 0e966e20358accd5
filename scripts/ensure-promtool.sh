#!/usr/bin/env bash
# promtool checks deploy/prometheus in the tests; it comes with Debian's prometheus package.
exec bash "$(dirname "$0")/ensure-debian-package.sh" promtool prometheus
