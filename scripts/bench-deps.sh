#!/usr/bin/env bash
# Debian packages the benchmarks (and the test of the bench's load generator) use: wrk, the HTTP load
# generator of the reservations bench, written in C: it takes far less of the shared CPU a request than
# Python clients do. Without it that bench uses its Python client only, and its test is skipped.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then exit 0; fi
source "$(dirname "$0")/apt-install.sh"
apt_install "for the benchmarks" "the reservations bench will use its Python client only" wrk
