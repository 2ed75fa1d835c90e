#!/usr/bin/env bash
# Install what the test suite needs beyond Python packages: Debian's Chromium for the browser
# tests (Playwright's own browser download cannot work here), SpamAssassin (its shipped rules,
# offline), Node's mailparser (tests/support/mailparser, a non-Python reader of our mail),
# axe-core (tests/browser/axe, the accessibility checker) and Lighthouse (tests/browser/lighthouse).
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
# npm packages the tests run, each pinned by its package-lock.json: Node's mailparser, axe-core
# (issue 10), the accessibility checker tests/browser/test_accessibility.py injects, and
# Lighthouse (issue 13), which tests/browser/test_lighthouse.py runs against Debian's Chromium.
root="$(dirname "$0")/.."
for pair in "tests/support/mailparser:mailparser" "tests/browser/axe:axe-core" \
            "tests/browser/lighthouse:lighthouse"; do
  dir="$root/${pair%%:*}"
  if ! command -v npm >/dev/null; then
    echo "warning: npm is missing; tests needing ${pair##*:} will fail under CI. Install nodejs and npm." >&2
  elif [ ! -d "$dir/node_modules/${pair##*:}" ]; then
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
done
