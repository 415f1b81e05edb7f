#!/usr/bin/env bash
# Installs Debian's headless Chromium for the browser tests (Playwright drives it through
# executable_path=/usr/bin/chromium; Playwright's own browser download does not work offline).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "note: /usr/bin/chromium is missing and this user cannot apt-get install it;" \
       "browser tests will be skipped (sudo apt-get install chromium chromium-driver)" >&2
fi
