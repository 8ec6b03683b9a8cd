#!/usr/bin/env bash
# Debian packages the services need besides Python's: a CJK font for the meetings' PDF minutes
# (fonts-wqy-microhei) and pdftotext (poppler-utils), with which the tests read the PDF back (decision 77).
# `system-packages.sh browser` adds Debian's Chromium for the console's browser tests (tests/browser: Playwright
# cannot download its own browser builds here).
# Idempotent: installs only what is missing, as root with apt-get; anywhere else it says what to install.
set -euo pipefail
missing=()
if [ "${1:-}" = browser ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-packages: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
else
  echo "system-packages: please install ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
fi
