#!/usr/bin/env bash
# Installs the Debian packages the test suites start as real processes, each only when missing
# (idempotent; installing them starts no service). Used by the README's test command and by .ci/run.
#   redis-server, redis-sentinel  a real Redis per test; Sentinel tests (Debian packages it apart)
#   chromium                      the dashboard's browser test (driven by playwright-core)
#   systemd                       systemd-analyze verifies the deploy/systemd units
#   openssl                       the Redis TLS tests make a throwaway CA at test time
#   radosgw ceph-mon ceph-osd ceph-common   Ceph RGW: the real S3 server of the storage
#                                 conformance, Object Lock and chaos suites (about 90 s to install)
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
ceph=()
for bin in radosgw ceph-mon ceph-osd ceph; do
  command -v "$bin" >/dev/null 2>&1 || ceph=(radosgw ceph-mon ceph-osd ceph-common)
done

if [ "${#missing[@]}" -eq 0 ] && [ "${#ceph[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${missing[*]} ${ceph[*]}; run as root (or: sudo apt-get install -y ${missing[*]} ${ceph[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-test-deps: installing ${missing[*]}"
  # Without recommended packages chromium takes about 40 s instead of minutes.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "${#ceph[@]}" -gt 0 ]; then
  echo "install-test-deps: installing ${ceph[*]}"
  apt-get install -y -qq "${ceph[@]}" >/dev/null
fi
