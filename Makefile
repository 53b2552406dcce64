# contimg: every entry point a developer or CI needs. Targets are idempotent.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PY := .venv/bin/python
PIP := .venv/bin/pip
APT_PACKAGES := wsclean casacore-data postgresql postgresql-15-q3c chromium
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: help deps venv lint format test test-fast demo bench clean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

deps:  ## Install the Debian packages (WSClean, casacore data, PostgreSQL + q3c, Chromium).
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

.stamp-venv: pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: .stamp-venv  ## Create .venv with contimg and its development tools.

lint: venv  ## ruff (lint + format check) and mypy.
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks
	.venv/bin/mypy

format: venv  ## Apply ruff's fixes and formatting.
	.venv/bin/ruff check --fix src tests benchmarks
	.venv/bin/ruff format src tests benchmarks

test: deps venv lint frontend frontend-test  ## Everything CI runs: lint, the web app's checks, then the whole test suite on SQLite and PostgreSQL.
	url="$$(scripts/pg-test-server.sh)"; \
	export CONTIMG_TEST_PG_URL="$$url" CONTIMG_REQUIRE_PG=1; \
	.venv/bin/pytest

test-fast: venv  ## The test suite without slow end-to-end tests (no lint, no apt).
	.venv/bin/pytest -m "not slow"

DEMO_ARGS ?=
demo: deps venv frontend  ## Install, then run the live pipeline on a simulated sky with the dashboard (Ctrl-C stops, rerun resumes).
	.venv/bin/contimg --home demo-data demo $(DEMO_ARGS)

bench: deps venv  ## Run every benchmark script.
	url="$$(scripts/pg-test-server.sh)"; export CONTIMG_TEST_PG_URL="$$url"; \
	for b in benchmarks/*_bench.py; do echo "== $$b"; $(PY) $$b; done

clean:  ## Remove the virtualenv and caches (not your data).
	rm -rf .venv .stamp-* .mypy_cache .ruff_cache .pytest_cache

# ------------------------------------------------------------------ web app (frontend/)
.PHONY: frontend frontend-test frontend-playwright types types-check

frontend/node_modules/.stamp: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

frontend: frontend/node_modules/.stamp  ## Build the dashboard into src/contimg/api/static (served by contimg serve).
	cd frontend && npx tsc -b && npx vite build

frontend-test: venv frontend/node_modules/.stamp  ## Dashboard: type check, vitest, generated API types up to date.
	cd frontend && npx tsc -b && npx vitest run
	cd frontend && node scripts/gen-types.mjs --check

frontend-playwright: venv frontend  ## Dashboard end to end: Playwright in Debian chromium against a seeded contimg serve.
	cd frontend && npx playwright test

types: venv frontend/node_modules/.stamp  ## Regenerate frontend/src/client/schema.d.ts from the API's OpenAPI schema.
	cd frontend && node scripts/gen-types.mjs

types-check: venv frontend/node_modules/.stamp  ## Fail when frontend/src/client/schema.d.ts is stale.
	cd frontend && node scripts/gen-types.mjs --check
