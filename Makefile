# SPDX-License-Identifier: MIT
# sealrun: the front door. `make serve` runs the service, `make check` runs
# every test (ASan+UBSan build). Both install what is missing first.

SHELL := /bin/bash
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= var
# make install: where (PREFIX), staged under DESTDIR, from which build tree.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD_DIR ?= build/release

# Everything the build, the tests and the benchmarks need, from Debian.
PKGS := build-essential pkgconf cmake ninja-build python3 clang-format git \
	libsodium-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev \
	libjavascriptcoregtk-4.1-dev libseccomp-dev libcurl4-openssl-dev libzstd-dev \
	libcmocka-dev libssl-dev libsecp256k1-dev libffi-dev wabt clang lld wasi-libc libclang-rt-14-dev \
	libclang-rt-14-dev-wasm32 rustc libstd-rust-dev-wasm32 sqlite3 postgresql nodejs chromium \
	python3-nacl python3-jsonschema openssl
# Only for the benchmarks (make bench).
BENCH_PKGS := wrk binaryen hyperfine valgrind curl

.PHONY: all deps bench-deps install-pkgs build serve check test-release bench clean help install

all: build

help:
	@echo "make serve   install what is missing, build, run sealrund on $(LISTEN)"
	@echo "make check   install what is missing, build with ASan+UBSan, run every test"
	@echo "make build   build build/bin/sealrund and build/bin/sealrun (release)"
	@echo "make bench   build and run the benchmarks (bench/)"
	@echo "make install build, then install under PREFIX (default /usr/local; DESTDIR stages it)"

deps:
	@$(MAKE) --no-print-directory install-pkgs WANT="$(PKGS)"
	@# npm builds the dashboard (dashboard/CMakeLists.txt); some nodejs builds bundle it
	@command -v npm >/dev/null || $(MAKE) --no-print-directory install-pkgs WANT=npm

bench-deps:
	@$(MAKE) --no-print-directory install-pkgs WANT="$(BENCH_PKGS)"

install-pkgs:
	@missing=""; for p in $(WANT); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing \
	  || { $(SUDO) apt-get update && \
	       $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; }; \
	fi

build: deps
	cmake --preset release >/dev/null
	cmake --build build/release -j $(JOBS)

# Both programs, their man pages, the dashboard's files, openapi.json and the
# systemd unit (contrib/CMakeLists.txt lists what goes where).
install:
	@if [ ! -f $(BUILD_DIR)/CMakeCache.txt ]; then $(MAKE) --no-print-directory build; fi
	cmake --build $(BUILD_DIR) -j $(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

serve: build
	@mkdir -p -m 700 $(DATA_DIR)
	@if ! build/bin/sealrun token list --data-dir $(DATA_DIR) --user dev 2>/dev/null | grep -q ' dev '; then \
	  echo "creating the dev API token (shown once, stored hashed in $(DATA_DIR)/sealrun.db):"; \
	  build/bin/sealrun token create --create --data-dir $(DATA_DIR) --user dev --label "make serve" | tail -n 1; \
	fi
	@echo "dashboard: http://$(LISTEN)/ui/ (sign in with the token above)"
	exec build/bin/sealrund --listen $(LISTEN) --data-dir $(DATA_DIR) --dev

check: deps
	cmake --preset asan >/dev/null
	cmake --build build/asan -j $(JOBS)
	ctest --preset asan

test-release: build
	ctest --preset release

bench: build bench-deps
	bench/run.sh

clean:
	rm -rf build
