#!/bin/sh
# Makes sure what the broker-backed tests and the demo need is installed: the
# mosquitto broker, its command-line clients (the CLI interop test) and openssl
# (test certificates). Installs missing packages from Debian's repositories when
# it can (root with apt-get); otherwise says what to do.
set -e
missing=""
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$missing mosquitto"
command -v mosquitto_pub >/dev/null 2>&1 || missing="$missing mosquitto-clients"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing with apt-get:$missing" >&2
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  exit 0
fi
echo "needed:$missing (Debian/Ubuntu: sudo apt-get install$missing)" >&2
exit 1
