#!/usr/bin/env bash
# Installs what the tests need from Debian when it is missing: the `prometheus` package (promtool
# for the alert-rule unit tests, the server for the real-Prometheus test). Under CI=true those
# tests fail without it; elsewhere they skip with one line naming the package. The package's
# service is never started (policy-rc.d), so nothing listens on Prometheus's default address.
set -uo pipefail
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then exit 0; fi
if [ "${CI:-}" != "true" ]; then
  echo "promtool/prometheus missing: the Prometheus tests will skip (install the Debian package 'prometheus')"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "promtool/prometheus missing and not root: cannot apt-get install prometheus" >&2
  exit 0
fi
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
fi
echo "+ apt-get install -y prometheus"
log=$(mktemp)
if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "apt-get install prometheus failed; the Prometheus tests will fail" >&2
fi
rm -f "$log"
if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
exit 0
