#!/usr/bin/env bash
# Install what the test suite needs beyond Python packages: Debian's Chromium for the browser
# tests (Playwright's own browser download cannot work here), SpamAssassin (its shipped rules,
# offline) and Node's mailparser (tests/support/mailparser, a non-Python reader of our mail).
# Runs as root on CI machines; elsewhere it only says what is missing.
set -euo pipefail
can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; }
apt_updated=""
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x /usr/bin/chromium ]; then
  if can_apt; then
    echo "Installing Debian chromium for the browser tests..."
    apt_install chromium
  else
    echo "warning: /usr/bin/chromium is missing; browser tests will fail. Install it: sudo apt-get install chromium" >&2
  fi
fi

# issue 10: SpamAssassin scores our emails in tests/transports/test_spamassassin.py.
if ! command -v spamassassin >/dev/null; then
  if can_apt; then
    echo "Installing Debian spamassassin for the spam-score tests..."
    apt_install spamassassin
  else
    echo "warning: spamassassin is missing; spam-score tests will fail under CI. Install it: sudo apt-get install spamassassin" >&2
  fi
fi

# issue 10: Node's mailparser reads our raw messages in tests/transports/test_node_parser.py.
if ! command -v npm >/dev/null && can_apt; then
  echo "Installing Debian nodejs and npm for the mail-parser tests..."
  apt_install nodejs npm
fi
mailparser_dir="$(dirname "$0")/../tests/support/mailparser"
if command -v npm >/dev/null; then
  if [ ! -d "$mailparser_dir/node_modules/mailparser" ]; then
    npm ci --prefix "$mailparser_dir" --no-audit --no-fund --loglevel=error
  fi
else
  echo "warning: npm is missing; the mail-parser tests will fail under CI. Install nodejs and npm." >&2
fi
