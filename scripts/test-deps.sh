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
# haproxy balances the multi-node test's nodes (e2e/cluster_test.go).
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
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

# The PostgreSQL tests use the machine's service (127.0.0.1:5432, database
# test). Start it if it is installed but stopped.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 && [ -d /etc/postgresql ]; then
  echo "test-deps: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi

# axe-core is injected into every page by the browser tests.
if [ ! -f e2e/node_modules/axe-core/axe.min.js ]; then
  echo "test-deps: installing axe-core"
  (cd e2e && npm ci --no-audit --no-fund --silent)
fi

# oauth2-proxy, an off-the-shelf OpenID Connect relying party, for
# e2e/proxy_test.go: built from the Go module proxy into e2e/bin/ (about two
# minutes the first time; nothing when the right version is there).
oauth2_proxy_version=v7.15.6
if ! go version -m e2e/bin/oauth2-proxy 2>/dev/null |
  grep -q "^[[:space:]]*mod[[:space:]]*github.com/oauth2-proxy/oauth2-proxy/v7[[:space:]]*${oauth2_proxy_version}[[:space:]]"; then
  echo "test-deps: building oauth2-proxy ${oauth2_proxy_version}"
  GOBIN="$PWD/e2e/bin" go install "github.com/oauth2-proxy/oauth2-proxy/v7@${oauth2_proxy_version}"
fi

# mailpit, a real SMTP server with an HTTP API to read mail back, for
# internal/mail's integration tests: built the same way (about a minute the
# first time, with its modules downloaded; nothing when it is there).
mailpit_version=v1.33.1
if ! go version -m e2e/bin/mailpit 2>/dev/null |
  grep -q "^[[:space:]]*mod[[:space:]]*github.com/axllent/mailpit[[:space:]]*${mailpit_version}[[:space:]]"; then
  echo "test-deps: building mailpit ${mailpit_version}"
  GOBIN="$PWD/e2e/bin" go install "github.com/axllent/mailpit@${mailpit_version}"
fi
