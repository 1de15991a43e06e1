#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium for the browser tests (Playwright drives
# /usr/bin/chromium; `playwright install` cannot download here).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
  echo "Chromium is missing and we are not root: browser tests will be skipped (apt-get install chromium)" >&2
  exit 0
fi
echo "Installing Debian's chromium for the browser tests..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
