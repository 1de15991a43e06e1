#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium for the browser tests (Playwright drives
# /usr/bin/chromium; `playwright install` cannot download here), with its language packs so that it can run
# in French as French users' browsers do (date fields written 26/11/2026; tests/browser/conftest.py).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && [ -e /usr/lib/chromium/locales/fr.pak ]; then exit 0; fi
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
  echo "Chromium or its language packs are missing and we are not root: browser tests will be skipped or show" \
       "dates in English (apt-get install chromium chromium-l10n)" >&2
  exit 0
fi
echo "Installing Debian's chromium and its language packs for the browser tests..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-l10n fonts-dejavu-core >/dev/null
