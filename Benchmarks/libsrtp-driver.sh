#!/usr/bin/env bash
# Measures the SRTP limit on this machine with libsrtp's own test driver, built from Debian's
# source package of the same libsrtp2 the relay links (NSS crypto backend, as Debian builds it).
# Nothing is kept in the repository: the source and the build live in a temporary directory.
#
#   bash Benchmarks/libsrtp-driver.sh      # prints protect throughput per profile, 1024/2048-byte payloads
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! ls /etc/apt/sources.list.d/*src* >/dev/null 2>&1; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > /etc/apt/sources.list.d/debian-src.sources
    apt-get update -qq
fi
apt-get install -y -qq libnss3-dev >/dev/null
cd "$work"
apt-get source -qq libsrtp2 >/dev/null 2>&1
cd libsrtp2-*/
./configure --enable-nss >/dev/null
make -j"$(nproc)" test/srtp_driver >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
LD_LIBRARY_PATH=. ./test/srtp_driver -t | awk '
    /rtp cipher:/ { cipher = substr($0, index($0, ":") + 2) }
    /rtp auth:/ { auth = substr($0, index($0, ":") + 2) }
    /^(1024|2048)\t/ { printf "%-40s %-40s %5d bytes: %8.0f Mbit/s = %.2f us/packet\n", cipher, auth, $1, $2, $1 * 8 / $2 }'
