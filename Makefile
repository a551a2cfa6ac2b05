# fcos — make targets. `make test` and `make image` work on a fresh machine (as root): they install what they need.
SHELL := /bin/bash
FCOS := ./bin/fcos
EXAMPLE ?= examples/config.ign

.PHONY: all deps node-deps build typecheck upstream-tools test test-unit test-e2e test-fleet image bench bench-boot clean

all: build

deps: node-deps
	bash scripts/deps.sh

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

node-deps: node_modules/.installed

# tsc, then what is generated from the compiled code (scripts/build-dist.mjs): oclif.manifest.json, the esbuild
# bundles (@oclif/core with its V8 code cache, the validate command), so that a start loads only the invoked command.
build: node-deps
	npx tsc -p tsconfig.json
	node scripts/build-dist.mjs

# Type-check everything, tests and benches included (vitest itself does not), with unused names refused.
typecheck: node-deps
	npx tsc -p tsconfig.check.json

# The real upstream tools the differential tests compare with (ignition-validate v2.24.0, butane v0.25.1), built from the Go
# module proxy once and cached under $FCOS_CACHE_DIR/upstream.
upstream-tools:
	bash scripts/upstream-tools.sh ignition-validate
	bash scripts/upstream-tools.sh butane

# The main job: compose the built-in default manifest and build a bootable disk image with the example config.
image: deps build
	$(FCOS) build --ignition $(EXAMPLE)

# All tests: unit and e2e. Prints a closing line "tests: N passed, N failed, N skipped".
# Unit tests first, then the e2e files one at a time; writes tmp/test-report.json (per file: wall time, tests, QEMU
# launches).
test: deps build typecheck upstream-tools
	bash scripts/run-tests.sh unit e2e

test-unit: build typecheck upstream-tools
	bash scripts/run-tests.sh unit

test-e2e: deps build
	bash scripts/run-tests.sh e2e

# The cluster e2e file alone (etcd cluster and fleet updates, issue #18; part of `make test`).
test-fleet: deps build
	bash scripts/run-tests.sh e2e -- test/e2e/cluster.test.ts

bench: deps build
	bash bench/validate
	bash bench/compose
	bash bench/boot

# Boot time of the latest build against the plain Debian baseline (boots VMs: minutes under TCG).
bench-boot: deps build
	bash bench/boot

clean:
	rm -rf dist tmp oclif.manifest.json
