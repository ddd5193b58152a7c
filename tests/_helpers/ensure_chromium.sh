#!/bin/sh
# Makes sure a Chromium is installed for the browser test (tests/web/chromium_test.ts):
# $CHROMIUM if set, else Debian's `chromium` package (/usr/lib/chromium/chromium,
# /usr/bin/chromium). Installs the package from Debian's repositories when it
# can (root with apt-get); otherwise says what to do. Quiet when it is there.
set -e
if [ -n "$CHROMIUM" ]; then
  [ -x "$CHROMIUM" ] && exit 0
  echo "CHROMIUM=$CHROMIUM is not an executable" >&2
  exit 1
fi
[ -x /usr/lib/chromium/chromium ] || [ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing with apt-get: chromium (for tests/web/chromium_test.ts)" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "needed: chromium (Debian: sudo apt-get install chromium; or set CHROMIUM=/path/to/chromium)" >&2
exit 1
