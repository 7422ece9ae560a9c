#!/bin/sh
# Installs the Debian packages gaitfed needs when run as root; otherwise prints
# the exact apt-get line. Quiet when everything is present.
PKGS="build-essential pkg-config libcurl4-openssl-dev libssl-dev libjansson-dev libopenblas-dev
libsqlite3-dev libevent-dev libzip-dev libcriterion-dev python3-numpy python3-torch clang
sqlite3 openssl chromium valgrind"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
    echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
else
  echo "deps: missing packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
