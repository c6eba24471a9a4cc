# Developer entry points (see README.rst): make test, make demo.
PYTHON ?= python3.11
VENV ?= .venv
VPY := $(VENV)/bin/python
# Marks the last install; pip -e keeps code edits live, so only a change of
# the packaging metadata needs a new one.
STAMP := $(VENV)/.installed

.PHONY: test test-sqlite test-postgresql test-browser security-test load-test \
	bench demo clean

test: $(STAMP)
	$(VPY) tools/run-tests all

test-sqlite: $(STAMP)
	$(VPY) tools/run-tests sqlite

# Asked for by name, PostgreSQL not being available is a failure.
test-postgresql: $(STAMP)
	REQUIRE_POSTGRESQL=1 $(VPY) tools/run-tests postgresql

# The web client driven through its menus by a headless chromium, on a fresh
# demo database, and on a second one with sale_opportunity built meanwhile
# for the step that creates an opportunity (BROWSER_OPPORTUNITY=0 leaves it
# out); tools/test-browser installs chromium, playwright and what tools/demo
# needs.
test-browser:
	tools/test-browser

# Security probes over JSON-RPC against a real trytond on a throwaway
# PostgreSQL cluster.
security-test: $(STAMP)
	$(VPY) tools/security-test

# Load and fault test: 1, 2 and 4 trytond behind nginx with trytond-cron,
# 20 virtual operators, one process killed midway (not in CI).
load-test: $(STAMP)
	$(VPY) tools/load-test

# The screens of the web client timed through a real trytond over JSON-RPC,
# beside hand-written SQL, on a throwaway cluster (1M calls): see
# doc/performance.rst.
bench: $(STAMP)
	$(VPY) tools/bench $(BENCH_ARGS)
	$(VPY) tools/bench-import $(BENCH_IMPORT_ARGS)

# tools/demo reuses the venv of make test (it runs the stamp rule above when
# needed, as on a fresh clone) and installs the web client itself.
# DEMO_ARGS: e.g. --reset, --all-countries (tools/demo --help).
demo:
	tools/demo $(DEMO_ARGS)

clean:
	rm -rf var $(VENV)

$(STAMP): setup.py $(wildcard tryton.cfg)
	$(VPY) -c '' 2>/dev/null || $(PYTHON) -m venv --clear $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[test,postgresql]'
	touch $@
