#!/usr/bin/env bash
# Counts the machine instructions the portal spends on one full sign-in
# (BenchmarkSignIn in internal/web: the login page, the password, the page
# asking for the code, the app's code and the landing page, on SQLite with
# the cheapest hashing, straight through the handler) under valgrind's
# callgrind. Callgrind counts instructions, not time: the same build gives
# the same figure within a few per cent on most runs, where the load
# tool's CPU per sign-in moves by half with the machine's moods. Not on
# every run: on a busy machine the scheduler's idle search adds to it, and
# now and then a run does work of its own that the other does not (a
# figure of -42.6 or 4.6 million, docs/PERFORMANCE.md). So run it twice in
# each checkout, and take a figure only when two runs agree.
#
# It runs the benchmark twice, N and 2N sign-ins, and reports the
# difference divided by N, so the set-up (migrations, the customer's
# enrolment) drops out. With --top, also the functions that spent the most
# per sign-in. About two minutes on 2 cores.
#
# The collector runs as in `tobira serve` (GOGC=400), and the bytes and
# objects allocated per sign-in, which decide its share, are printed
# beside (the benchmark's own B/op and allocs/op). Async preemption is off,
# since callgrind cannot follow Go's preemption signals.
set -euo pipefail
cd "$(dirname "$0")/.."
top=0
if [ "${1:-}" = "--top" ]; then
  top=25
fi
if ! command -v valgrind >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq valgrind >/dev/null
  else
    echo "instructions.sh: valgrind is not installed" >&2
    exit 1
  fi
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
CGO_ENABLED=0 go test -c -o "$dir/web.test" ./internal/web
n=300
for count in $n $((2 * n)); do
  (cd "$dir" && GOGC=400 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
    --callgrind-out-file="$dir/$count.out" ./web.test -test.run '^$' \
    -test.bench '^BenchmarkSignIn$' -test.benchtime "${count}x" >"$dir/$count.log" 2>&1) || {
    cat "$dir/$count.log" >&2
    exit 1
  }
  callgrind_annotate --auto=no --threshold=100 "$dir/$count.out" >"$dir/$count.txt" 2>/dev/null
done
# Each line of callgrind_annotate: "1,234 (0.1%)  file:function [object]".
allocs=$(awk '/^BenchmarkSignIn/ { print $(NF-3), $(NF-2), $(NF-1), $NF }' "$dir/$((2 * n)).log")
awk -v n=$n -v top=$top -v allocs="$allocs" '
  /=>/ { next }
  match($0, /^ *[0-9,]+ \( *[0-9.]+%\) +/) {
    v = substr($0, 1, RLENGTH); sub(/\(.*/, "", v); gsub(/[ ,]/, "", v)
    name = substr($0, RLENGTH + 1); sub(/ \[.*/, "", name); sub(/^[^:]*:/, "", name); sub(/'"'"'[0-9]+$/, "", name)
    if (FILENAME ~ /\/'$n'\.txt$/) v = -v
    cost[name] += v
  }
  END {
    total = cost["PROGRAM TOTALS"]
    printf "instructions per sign-in: %.2f million (%s)\n", total / n / 1e6, allocs
    if (top == 0) exit
    delete cost["PROGRAM TOTALS"]
    for (i = 0; i < top; i++) {
      best = ""
      for (k in cost) if (best == "" || cost[k] > cost[best]) best = k
      if (best == "") break
      printf "%9.0f %5.1f%%  %s\n", cost[best] / n, 100 * cost[best] / total, best
      delete cost[best]
    }
  }' "$dir/$n.txt" "$dir/$((2 * n)).txt"
