#!/usr/bin/env bash
# Install what the test suite needs beyond Python packages: Debian's Chromium for the browser
# tests (Playwright's own browser download cannot work here). Runs as root on CI machines;
# elsewhere it only says what is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian chromium for the browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
else
  echo "warning: /usr/bin/chromium is missing; browser tests will fail. Install it: sudo apt-get install chromium" >&2
fi
