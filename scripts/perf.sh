#!/usr/bin/env bash
# Runs every measurement of docs/PERFORMANCE.md with the project's load tool
# and writes each report (Markdown and JSON) to docs/perf/. About 13 minutes
# on 2 cores. Run nothing else meanwhile: the load tool and the server share
# the machine, and the numbers are only as quiet as it is.
#
# PostgreSQL: $TOBIRA_TEST_POSTGRES, else the machine's service; every run
# works in a schema of its own and drops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/tobira
go build -o "$bin" ./cmd/tobira
out=docs/perf
mkdir -p "$out"
PG=${TOBIRA_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
L=1,16,64,256
run() {
  local name=$1
  shift
  echo "== $name: tobira bench $*"
  "$bin" bench "$@" --json "$out/$name.json" >"$out/$name.md"
}
run sqlite-cheap-signin        --hashing cheap --flow signin --concurrency $L --duration 10s
run sqlite-cheap-signin-normal --hashing cheap --flow signin --concurrency $L --duration 10s --sqlite-synchronous normal
run sqlite-prod-signin         --hashing production --flow signin --concurrency $L --duration 10s
run sqlite-cheap-full          --hashing cheap --flow full --concurrency $L --duration 10s
run pg-cheap-signin            --hashing cheap --flow signin --concurrency $L --duration 10s --database "$PG"
run pg-prod-signin             --hashing production --flow signin --concurrency $L --duration 10s --database "$PG"
run pg3-cheap-signin           --hashing cheap --flow signin --concurrency 64,256 --duration 10s --database "$PG" --nodes 3
# Half of the peak: an offered load of half the most sign-ins/s that the
# same server reached above, at any level. A peak under 2/s has no half:
# --rate 0 would be no offered load at all, so it prints nothing and the
# bench refuses the empty --rate.
half() {
  grep -o '"sign_ins_per_second": [0-9.]*' "$out/$1.json" | awk '$2 > m { m = $2 } END { if (m < 2) exit 1; printf "%d", m / 2 }' ||
    echo "perf.sh: $out/$1.json has no peak to take half of" >&2
}
run sqlite-half-full           --hashing cheap --flow signin --concurrency 64 --rate "$(half sqlite-cheap-signin)" --duration 10s
run sqlite-half-normal         --hashing cheap --flow signin --concurrency 64 --rate "$(half sqlite-cheap-signin-normal)" --duration 10s --sqlite-synchronous normal
run pg-half                    --hashing cheap --flow signin --concurrency 64 --rate "$(half pg-cheap-signin)" --duration 10s --database "$PG"
# A million accounts against the pool alone, alternated (120,000, 1M, 120,000, 1M)
# so that the machine's moods fall on both alike.
for round in 1 2; do
  run sqlite-120k-$round       --hashing cheap --flow signin --concurrency 1,64 --duration 10s
  run sqlite-1m-$round         --hashing cheap --flow signin --concurrency 1,64 --duration 10s --accounts 1000000
  run pg-120k-$round           --hashing cheap --flow signin --concurrency 1,64 --duration 10s --database "$PG"
  run pg-1m-$round             --hashing cheap --flow signin --concurrency 1,64 --duration 10s --accounts 1000000 --database "$PG"
done
