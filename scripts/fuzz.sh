#!/usr/bin/env bash
# Runs every Go fuzz target for a bounded time (FUZZTIME, default 20s), keeps the inputs the fuzzer found
# interesting in the package's testdata/fuzz/<target>/ (so `go test` replays them as seeds), and prints
# executions and the kept corpus size per target. Not part of `make test`: run `make fuzz`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fuzztime=${FUZZTIME:-20s}
module=$(go list -m)
cache=$(go env GOCACHE)/fuzz
targets=(
  "./internal/wrangler FuzzPatch"
  "./internal/wrangler FuzzParseOutput"
  "./internal/instance FuzzParseSize"
  "./internal/instance FuzzLookup"
  "./internal/verify FuzzParseResolveRule"
  "./internal/image FuzzParseRef"
  "./internal/sandbox/leandouble FuzzParseTimeout"
  "./internal/wrangler FuzzSleepAfter"
  "./internal/github FuzzParseCommand"
)
printf '%-26s %-22s %12s %8s\n' target package execs corpus
for t in "${targets[@]}"; do
  set -- $t
  pkg=$1 name=$2
  log=$(mktemp)
  # Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" as -fuzztime ends,
  # writing no failing input (https://go.dev/issue/75804, fixed in Go 1.27). That one outcome is run
  # again, once; a failure that wrote an input ("Failing input written to") always fails.
  for attempt in 1 2; do
    if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -parallel=2 "$pkg" >"$log" 2>&1; then
      break
    fi
    if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
      echo "fuzz: $name hit Go's end-of-fuzztime race (go.dev/issue/75804, no input written); running it again" >&2
      continue
    fi
    cat "$log" >&2
    echo "fuzz: $name failed; the failing input is in $pkg/testdata/fuzz/$name" >&2
    rm -f "$log"
    exit 1
  done
  execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  rm -f "$log"
  keep="$pkg/testdata/fuzz/$name"
  mkdir -p "$keep"
  src="$cache/$module/${pkg#./}/$name"
  [ -d "$src" ] && cp -n "$src"/* "$keep"/ 2>/dev/null || true
  printf '%-26s %-22s %12s %8s\n' "$name" "$pkg" "${execs:-0}" "$(ls "$keep" | wc -l)"
done
