# Stepdown: two commands on a fresh Debian 12 machine do everything.
#   make run    set up, build the UI and launch the app
#   make test   set up and run every check and test, end-to-end included
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Debian packages Tauri v2 needs on Linux, plus the tools the tests use
# (Xvfb, WebKitWebDriver, poppler for PDF checks, ImageMagick for screenshots,
# xclip to read what a Copy button put on the X clipboard, PostgreSQL 15 for the
# team store's tests: a throwaway cluster, see tests/pg/).
APT_PACKAGES := libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev \
  libssl-dev libayatana-appindicator3-dev librsvg2-dev xvfb xauth webkit2gtk-driver \
  poppler-utils fonts-dejavu-core imagemagick x11-utils sqlite3 xclip postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export CARGO_TERM_COLOR ?= never

.PHONY: help setup setup-apt setup-npm setup-cargo ui app run test lint test-rust test-pg test-ui test-e2e bindings-check screenshot bench bench-seats bench-ui clean

help:
	@echo "make run         set up and launch Stepdown"
	@echo "make test        set up and run every test (lint, Rust, UI, end-to-end)"
	@echo "make screenshot  launch under Xvfb and save PNGs to target/screenshots/"
	@echo "make bench       run the core benchmarks (criterion) and the seats benchmark"
	@echo "make bench-ui    desktop start-up, memory and keystroke latency"

## setup: idempotent; a second run on a ready machine only checks.
setup: setup-apt setup-npm setup-cargo

setup-apt:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "setup: Debian packages present"; fi

# npm ci only when the lock file changed since the last install.
setup-npm: ui/node_modules/.stepdown-installed
ui/node_modules/.stepdown-installed: ui/package-lock.json ui/package.json
	cd ui && npm ci --no-audit --no-fund
	touch $@

setup-cargo:
	@command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first"; exit 1; }
	@cargo fmt --version >/dev/null 2>&1 || { echo "setup: rustfmt missing (rustup component add rustfmt)"; exit 1; }
	@cargo clippy --version >/dev/null 2>&1 || { echo "setup: clippy missing (rustup component add clippy)"; exit 1; }
	@if command -v tauri-driver >/dev/null; then echo "setup: tauri-driver present"; \
	 else echo "setup: installing tauri-driver from crates.io"; cargo install tauri-driver --locked; fi

## ui: the Svelte app, built into ui/dist (embedded into the app binary).
ui: setup-npm
	cd ui && npm run --silent build

## app: the desktop app and the CLI (debug build, UI embedded).
app: ui
	cargo build -p stepdown -p stepdown-app

run: setup app
	./target/debug/stepdown-app

lint: ui
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --features stepdown/synthetic -- -D warnings
	cd ui && npm run --silent check

# The Rust tests run beside a throwaway PostgreSQL cluster (STEPDOWN_TEST_PG_URL),
# removed afterwards even when a test fails. `make run` stays on SQLite.
test-rust: ui
	tests/pg/with-cluster.sh cargo test --workspace

# The team store's SQL on a real server: row-level security by practice,
# append-only audit log and review versions, the role on every audit entry.
test-pg: setup-apt
	tests/pg/access_test.sh

# ts-rs regenerates ui/src/lib/bindings during `cargo test`; committed copies must match.
bindings-check: test-rust
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  drift="$$(git status --porcelain -- ui/src/lib/bindings)"; \
	  if [ -n "$$drift" ]; then echo "TypeScript bindings drifted from the Rust types; commit the regenerated files:"; echo "$$drift"; git diff -- ui/src/lib/bindings | head -50; exit 1; fi; \
	  echo "bindings-check: TypeScript bindings match the Rust types"; \
	else echo "bindings-check: not a git checkout, skipped"; fi

test-ui: setup-npm
	cd ui && npm run --silent test

# End-to-end too may use the cluster (two windows on the team store).
test-e2e: setup app
	tests/pg/with-cluster.sh tests/e2e/run.sh

test: setup lint test-pg test-rust bindings-check test-ui test-e2e
	@echo "make test: all passed"

screenshot: setup app
	tests/e2e/screenshot.sh

bench: bench-seats
	cargo bench -p stepdown

## bench-seats: 5 seats (processes) x 1,000 saves of one review on one store: conflicts,
## lost updates (must be 0), latency per save, throughput (docs/store.md). Not in `make test`.
bench-seats:
	cargo run --release --example seats_bench -- --seats 5 --saves 1000 --out target/seats_bench.json

## bench-ui: start-up, memory (vs a bare Tauri window) and keystroke latency; figures in target/perf/.
bench-ui: setup app
	tests/perf/ui_perf.sh

clean:
	cargo clean
	rm -rf ui/dist ui/node_modules
