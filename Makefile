# lean4-cf: every test runs through `make test` (CI's .ci/run calls exactly that).
GO        ?= go
STATICCHECK = $(GO) tool -modfile=tools/go.mod staticcheck

.PHONY: test test-short lint fmt-check vet staticcheck go-test worker-test toolchain build run bench-preflight bench-push bench-pipeline fuzz load hardening test-long bench-capacity action-image bench-action-start

## test: everything CI runs: the toolchain, lint, Go tests, Worker tests, the action image built and run
test: toolchain lint go-test worker-test action-image

## test-short: the everyday loop: Go tests without the ones that deploy through wrangler and workerd
## (those carry `[short] skip` or testing.Short); `make test` runs everything
test-short: toolchain
	$(GO) test -short -count=1 ./...

## toolchain: Node.js 22 and the Worker's pinned npm packages, into git-ignored project folders
toolchain:
	@scripts/toolchain.sh

## lint: gofmt, go vet and staticcheck
lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(find . -name '*.go' -not -path './.tools/*' -not -path '*/node_modules/*' -not -path '*/testdata/*' | xargs gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt needed on:" $$out >&2; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

# -parallel 4 on any machine: the end-to-end scripts and the fault drills (which run side by side) spend
# about half their time waiting on wrangler, workerd and sockets rather than on a CPU, so four at once keep
# two cores busy (./cmd/lean4-cf on this project's 2-core machine: 250 s at the default of one per core,
# 177 s at four).
go-test:
	$(GO) test -count=1 -parallel 4 -timeout 40m ./...

worker-test: toolchain
	@if [ -f worker/package.json ]; then bash -c '. scripts/env.sh && cd worker && npm test'; fi

## action-image: build the Dockerfile unchanged (BuildKit, then the classic builder) and run the image as
## GitHub's runner runs a Docker action against the local Cloudflare; starts dockerd if none runs (and stops
## it), makes missing base images locally; skips loudly only where Docker cannot start at all
action-image: toolchain
	@scripts/action-image.sh

## bench-action-start: time to a running entry point, (a) image: Dockerfile built cold vs (b) the prebuilt
## image pulled from a loopback registry into a fresh engine; ratio and image size (not in test).
## BENCH_ARGS, e.g. BENCH_ARGS="-runs 3 -compare lean4cf-action:before"
bench-action-start:
	@scripts/action-image.sh bench

## bench-push: lean4-cf's push (measuring as it uploads) against plain remote.Write, and an unchanged redeploy
bench-push:
	$(GO) run ./bench/push $(BENCH_ARGS)

## run: the main job: the whole deploy against a local Cloudflare, offline, no account
run: toolchain
	$(GO) run ./cmd/lean4-cf sandbox --deploy

## build: the lean4-cf binary into bin/
build:
	$(GO) build -o bin/lean4-cf ./cmd/lean4-cf

## bench-preflight: naive vs --exact vs default image measurement through a 100 MB/s, 20 ms link (not in test)
bench-preflight:
	$(GO) run ./bench/preflight $(BENCH_ARGS)

## test-long: the test suite's long mode: everything in `make test`, then every fuzz target for FUZZTIME
test-long: test fuzz

## fuzz: each Go fuzz target for FUZZTIME (default 20s), keeping new corpus entries under testdata/fuzz;
## not part of `make test` (the kept corpus replays as ordinary tests there)
FUZZTIME ?= 20s
fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## load: CLIENTS clients (default 200) for DURATION (default 60s) through the Worker's container entry point
## in workerd, LEAN_ORIGIN -> the Lean double, key and limits on; every answer checked (not in test);
## LOAD_ARGS adds flags, e.g. LOAD_ARGS=-json (stdout is then the JSON object alone)
CLIENTS  ?= 200
DURATION ?= 60s
load: toolchain
	@$(GO) run ./bench/load -clients $(CLIENTS) -duration $(DURATION) $(LOAD_ARGS)

## bench-capacity: the Worker in workerd before a Lean double with an instance type's memory and vCPUs,
## 1 -> 200 clients, admission control on vs off (a plain proxy), standard-1 and standard-3, and three
## standard-1 instances: goodput, p50/p95, 429/503/504, instance deaths per step (not in test)
bench-capacity: toolchain
	$(GO) run ./bench/capacity $(BENCH_ARGS)

## bench-pipeline: lean4-cf's own time in a deploy beyond the time wrangler takes, in the sandbox (not in test)
bench-pipeline: toolchain
	$(GO) run ./bench/pipeline $(BENCH_ARGS)

## hardening: the hardening figures in one run: bad inputs, fault drills and secret scans, fuzzing
## (HARDENING_FUZZTIME per target, default 10s), load (CLIENTS, DURATION); not part of `make test`
HARDENING_FUZZTIME ?= 10s
hardening: toolchain
	@FUZZTIME=$(HARDENING_FUZZTIME) CLIENTS=$(CLIENTS) DURATION=$(DURATION) scripts/hardening.sh
