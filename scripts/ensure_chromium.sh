#!/usr/bin/env bash
# Make sure headless Chromium is installed for the browser tests (tests/test_ui_browser.py).
# Idempotent: does nothing when /usr/bin/chromium exists. Installs the Debian package
# when run as root; otherwise says how. Never lets a tool download its own browser.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "chromium: found $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium: installing the Debian package..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends chromium
    echo "chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

cat <<'MSG'
chromium: /usr/bin/chromium is missing; the browser tests will be skipped (they fail when CI is set).
Install it with:
    sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium
(on Debian/Ubuntu; elsewhere install Chromium and link it to /usr/bin/chromium)
MSG
# In CI a missing browser is an error (the browser tests fail there anyway).
[ -n "${CI:-}" ] && exit 1
exit 0
