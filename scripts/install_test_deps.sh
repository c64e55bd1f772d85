#!/bin/sh
# Install what the browser tests need and pip cannot give: Debian's chromium, and
# a CJK font so that screenshots of the prompt page show Chinese, not boxes.
#
# Idempotent and quiet: a no-op when /usr/bin/chromium is already there. CI runs
# it as root on Debian before the test command; elsewhere it uses sudo when
# available. apt's chatter goes to a temporary log shown only when it fails.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install_test_deps: chromium is missing and this is not root (no sudo either);" >&2
    echo "  install it with: apt-get install -y --no-install-recommends chromium" >&2
    exit 1
fi

APT="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
if ! { $APT update -qq && $APT install -y -qq --no-install-recommends chromium fonts-wqy-microhei; } >"$LOG" 2>&1; then
    cat "$LOG" >&2
    echo "install_test_deps: installing chromium failed" >&2
    exit 1
fi
test -x /usr/bin/chromium
