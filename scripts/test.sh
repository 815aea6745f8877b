#!/usr/bin/env bash
# Runs every test: unit, store conformance, HTTP flows, and the browser and
# interoperability tests (headless Chromium, oathtool, zbarimg, axe-core).
# It installs what those need first. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/test-deps.sh
go vet ./...
# The browser tests must run, never skip, on CI and here.
export TOBIRA_E2E=1
# A package's bound, for a hang: the browser tests take about 16 minutes
# here beside the other packages, and took 22 on a machine whose cores
# other work was taking.
go test -count=1 -timeout 40m "$@" ./...
