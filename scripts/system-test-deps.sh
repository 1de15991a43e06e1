#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium for the browser tests (Playwright drives
# /usr/bin/chromium; `playwright install` cannot download here), with its language packs so that it can run
# in French as French users' browsers do (date fields written 26/11/2026; tests/browser/conftest.py).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && [ -e /usr/lib/chromium/locales/fr.pak ]; then exit 0; fi
source "$(dirname "$0")/apt-install.sh"
apt_install "for the browser tests" "browser tests will be skipped or show dates in English" \
  chromium chromium-l10n fonts-dejavu-core
