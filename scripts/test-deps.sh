#!/usr/bin/env bash
# Installs what the test suite needs from Debian's packages and the npm
# registry, when it is missing. Safe to run again: it does nothing when all is
# there already.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v oathtool >/dev/null 2>&1 || need+=(oathtool)
command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
case "$(fc-list : family 2>/dev/null)" in *"Noto Sans CJK"*) ;; *) need+=(fonts-noto-cjk) ;; esac

if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps: installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-deps: need root to install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig >/dev/null
fi

# axe-core is injected into every page by the browser tests.
if [ ! -f e2e/node_modules/axe-core/axe.min.js ]; then
  echo "test-deps: installing axe-core"
  (cd e2e && npm ci --no-audit --no-fund --silent)
fi
