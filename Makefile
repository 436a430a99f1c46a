# callwire: `make run` and `make test` do all the set-up on a fresh Debian machine.
PREFIX ?= /usr/local
BUILD ?= build
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
DATA ?= ./data
FUZZ_SECONDS ?= 30

.PHONY: all deps build run test test-unit test-asan fuzz bench bench-sfu bench-vs bench-sdk install clean format

all: build

deps:
	@scripts/install-deps

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/callwire serve --listen $(LISTEN) --data $(DATA) --demo

# Every test on a normal build, the fuzzers, then every test again under ASan + UBSan.
test: build
	cd $(BUILD) && ctest --output-on-failure
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory test-asan

test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCW_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure

# Each fuzzer runs for FUZZ_SECONDS from the checked-in corpus; a crash fails the run.
fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCW_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)
	@for f in build-fuzz/tests/fuzz/fuzz_*; do \
		name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
		work=$$(mktemp -d); cp -r $$corpus/. $$work/ 2>/dev/null || true; \
		echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=70000 -print_final_stats=1 \
			-artifact_prefix=build-fuzz/ $$work 2>build-fuzz/$$name.log \
			|| { tail -50 build-fuzz/$$name.log; rm -rf $$work; exit 1; }; \
		grep -E 'stat::number_of_executed_units' build-fuzz/$$name.log; \
		rm -rf $$work; \
	done

# Benchmarks: results into BENCHMARKS.md's tables (bench/README.md says what each measures):
# ringing, the SFU in-process, then callwire and Janus side by side. About 12 minutes.
bench: build
	BUILD=$(BUILD) bench/run
	BUILD=$(BUILD) bench/run-sfu
	BUILD=$(BUILD) bench/run-vs
	BUILD=$(BUILD) bench/run-sdk

# callwire and Janus 1.1.2 side by side in a network namespace (installs Debian's janus when
# missing): BENCHMARKS.md's side-by-side section. About 5 minutes.
bench-vs: build
	BUILD=$(BUILD) bench/run-vs

# The SFU's load generator, its media plane in-process over loopback: BENCHMARKS.md's SFU
# section (bench/README.md says what each figure means). About 2.5 minutes.
bench-sfu: build
	BUILD=$(BUILD) bench/run-sfu

# What one C client (libcallwire, `callwire call` and `answer`) costs in a two-party audio
# call and in a video call (640x480 at 30 pictures/s both ways), and the same audio call
# between two doorphones (examples/doorphone.c, libcallwire alone) against the floors of
# its resident memory: BENCHMARKS.md's client section. About two minutes.
bench-sdk: build
	BUILD=$(BUILD) bench/run-sdk

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz
