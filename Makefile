# Relais developer commands. `make test` is the test command CI runs (.ci/run).
SWIFT ?= swift

.PHONY: test check-imports unit benchmarks-check benchmarks macro-benchmark macro-benchmark-webrtcbin soak build run fuzz fuzz-ci

## Package.swift's dependencies against the imports, unit, integration and end-to-end tests, the
## allocation thresholds of the benchmarks, then every fuzz target briefly (a new trap on network
## input fails the build).
test: check-imports unit benchmarks-check fuzz-ci

## Fails when a target imports a module Package.swift does not declare for it, or declares one it
## never imports (a few seconds; reads the manifest with `swift package dump-package`).
check-imports:
	python3 scripts/check-imports.py

# Serially: the end-to-end suites start real servers and peers that each need the machine's cores.
unit:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

## Fails (exit 2) when a benchmark allocates more than Benchmarks/Thresholds allows.
benchmarks-check:
	$(SWIFT) package benchmark thresholds check --path Benchmarks/Thresholds --no-progress

## Full benchmark report (ns per packet, allocations).
benchmarks:
	$(SWIFT) package benchmark --no-progress --scale

## Relay CPU per forwarded packet, loss and added latency under HD consultation load (2x2, 5x3,
## 10x3 rooms x subscribers); one line per load point, JSON in Benchmarks/Macro/results.json.
macro-benchmark:
	python3 Benchmarks/Macro/run.py

## The relay driven by GStreamer's webrtcbin (AES-CM), 10 rooms x 3, in a network namespace (root).
macro-benchmark-webrtcbin:
	$(SWIFT) build -c release --product relais-server
	unshare -n /usr/bin/python3 Benchmarks/Macro/webrtcbin_load.py --server-bin .build/release/relais-server

## Not in CI: 10 rooms x 3 for 30 minutes; resident memory at minutes 5 and 30, participants dropped.
soak:
	python3 Benchmarks/Soak/soak.py

build:
	$(SWIFT) build -c release

## Install system dependencies if missing, then run the server with embedded defaults.
run:
	bash .ci/run --install-only
	$(SWIFT) run -c release relais-server

## A fuzzing campaign (Fuzz/): every target for FUZZ_SECONDS (default 60), pure-Swift targets in a
## libFuzzer-only build, the others with AddressSanitizer; FUZZ_UNTIL=N stops a target once its
## recorded total reaches N; FUZZ_JOBS targets at once. Records the runs in Fuzz/campaign.json,
## writes Fuzz/results.md; crash inputs in Fuzz/artifacts/; exits non-zero on any crash.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
fuzz:
	python3 Fuzz/run.py --campaign --seconds $(FUZZ_SECONDS) --parallel $(FUZZ_JOBS) $(if $(FUZZ_UNTIL),--until $(FUZZ_UNTIL))

## CI's short run: 25 s per target, so a new trap on network input fails the build.
fuzz-ci:
	python3 Fuzz/run.py --seconds 25
