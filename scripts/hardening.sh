#!/usr/bin/env bash
# Prints the hardening figures (bad inputs, fault drills, fuzzing, load, secrets) from one run:
#   - bad inputs tried and passed (cmd/lean4-cf TestBadInputs, each through the real binary),
#   - fault drills passed (TestFaultDrills: every API endpoint a deploy uses; the drill_* scripts: SIGTERM,
#     registry, containers), with the secret scan that runs at the end of every end-to-end script,
#   - fuzz executions and kept corpus per target (scripts/fuzz.sh for FUZZTIME, default 10s),
#   - load through the Worker (bench/load: CLIENTS for DURATION, defaults 200 and 60s).
# Exits non-zero when any part fails. Run it with `make hardening`.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

fuzztime=${FUZZTIME:-10s}
clients=${CLIENTS:-200}
duration=${DURATION:-60s}
status=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

section() { printf '\n== %s\n' "$1"; }

section "bad inputs (go test -v -run TestBadInputs ./cmd/lean4-cf)"
if go test -count=1 -v -run '^TestBadInputs$' ./cmd/lean4-cf >"$logs/bad" 2>&1; then
  grep -ho 'bad inputs: .*' "$logs/bad" | tail -1
else
  grep -E -- '--- FAIL|FAIL:|bad inputs:' "$logs/bad" | head -20; echo "bad inputs: FAILED"; status=1
fi

section "fault drills and secret scan (go test -v -run 'TestFaultDrills|TestScripts' ./cmd/lean4-cf)"
start=$SECONDS
if go test -count=1 -v -timeout 45m -run '^(TestFaultDrills|TestScripts)$' ./cmd/lean4-cf >"$logs/drills" 2>&1; then ok=1; else ok=0; status=1; fi
grep -ho 'fault drills: .*' "$logs/drills" | tail -1
scripts_pass=$(grep -cE -- '--- PASS: TestScripts/' "$logs/drills")
scripts_fail=$(grep -cE -- '--- FAIL: TestScripts/' "$logs/drills")
drills_pass=$(grep -cE -- '--- PASS: TestScripts/drill_' "$logs/drills")
drills_fail=$(grep -cE -- '--- FAIL: TestScripts/drill_' "$logs/drills")
echo "drill scripts (SIGTERM, registry, containers): $drills_pass passed, $drills_fail failed"
echo "end-to-end scripts scanned for secrets (token, API key, registry passwords, GitHub token): $scripts_pass passed, $scripts_fail failed"
echo "took $((SECONDS - start)) s"
[ "$ok" = 1 ] || grep -E -- '--- FAIL|FAIL:' "$logs/drills" | head -20

section "fuzzing (FUZZTIME=$fuzztime per target)"
if ! FUZZTIME=$fuzztime scripts/fuzz.sh; then echo "fuzzing: FAILED"; status=1; fi

section "load on the Worker ($clients clients for $duration)"
if ! go run ./bench/load -clients "$clients" -duration "$duration"; then echo "load: FAILED"; status=1; fi

section "result"
if [ "$status" = 0 ]; then echo "hardening: every part passed"; else echo "hardening: FAILED (see above)"; fi
exit $status
