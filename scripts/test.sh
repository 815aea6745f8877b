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
# other work was taking. Four tests marked parallel at a time, not one per
# core: the browser tests marked so wait on real time (a maintenance
# window's start, a cooling-off period) and on the browser, idle slots that
# left the two cores half used for the last third of the run.
go test -count=1 -timeout 40m -parallel 4 "$@" ./...
