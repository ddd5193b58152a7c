#!/bin/sh
# Makes sure a mosquitto broker binary is available for the broker-backed tests
# and the demo. Installs it from Debian's packages when it is missing and we can
# (root with apt-get); otherwise says what to do.
set -e
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "mosquitto not found: installing it with apt-get" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto openssl >/dev/null
  exit 0
fi
echo "mosquitto is needed (Debian/Ubuntu: sudo apt-get install mosquitto)" >&2
exit 1
