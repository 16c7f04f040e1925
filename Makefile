# Development harness of the stripe_connector Odoo 18 addon.
#
# Each target sets up what it needs on the way, and skips what is already
# done: find Odoo 18.0 (dev/find-odoo.sh, ODOO_SRC), .venv (dev/venv.sh),
# PostgreSQL (dev/pg.sh: a private cluster in .pg/ unless PGHOST/PGPORT/PGUSER
# point to a server), the addons link .addons/stripe_connector and the Odoo
# config .odoorc (dev/odoorc.sh). `make` alone lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# ---- variables you may set: make test TESTS=tests/test_x.py ---------------
HTTP_PORT ?= 8069
DEMO_DB ?= stripe_demo
TEST_DB ?= stripe_test
TEST_ODOO_DB ?= stripe_odoo_test
BENCH_DB ?= stripe_bench
POT_DB ?= stripe_pot
UPGRADE_DB ?= stripe_upgrade
# make test-upgrade upgrades a database of the module as it was at this commit
# (the last of version 18.0.1.0.0).
UPGRADE_FROM ?= c9f00b9
TESTS ?= tests
PYTEST_ARGS ?=
ODOO_ARGS ?=
ODOO_LOG_LEVEL ?= warn
ODOO_TEST_ARGS ?=
# Odoo's own suites that make test-odoo runs with the module installed.
ODOO_SUITES ?= /account:TestAccountPaymentRegister,/payment_stripe,/sale:TestSaleOrder
NO_TESTS_OK ?=
# make test REUSE_DB=1: run in TEST_DB as it is when the modules are installed
# there (no drop, no install: about 40 s less); after a change to fields,
# views or data, run once without it.
REUSE_DB ?=

MODULE := stripe_connector
ADDON := $(CURDIR)/.addons/$(MODULE)
# The extension example (examples/): installed and tested beside the module in
# the test databases, never in the demo database nor in the wheel.
EXAMPLE := $(MODULE)_example
EXAMPLE_ADDON := $(CURDIR)/.addons/$(EXAMPLE)
TEST_MODULES := $(MODULE),$(EXAMPLE)
VENV := $(CURDIR)/.venv
ODOO_RC := $(CURDIR)/.odoorc

# The Odoo 18.0 tree: looked up once, and only when a target needs it.
ODOO_DIR = $(eval ODOO_DIR := $$(shell ODOO_SRC='$(ODOO_SRC)' dev/find-odoo.sh))$(or \
	$(ODOO_DIR),$(error Odoo 18.0 source tree not found: see the message above))
ODOO_BIN = $(VENV)/bin/python $(ODOO_DIR)/odoo-bin -c $(ODOO_RC)
DB = ODOO_SRC=$(ODOO_DIR) dev/db.sh
PG_ENV = eval "$$(dev/pg.sh env)"

.PHONY: help setup venv pg addons config run stop test test-odoo test-upgrade lint \
	format bench \
	pot wheel \
	clean distclean

help: ## list the targets and variables
	@echo "Targets:"
	@sed -n 's/^\([a-z-]*\):.*## \(.*\)/  make \1\t\2/p' $(MAKEFILE_LIST) | expand -t 20
	@echo
	@echo "Variables (current value):"
	@echo "  ODOO_SRC=$(ODOO_SRC)   Odoo 18.0 source tree (else looked up)"
	@echo "  HTTP_PORT=$(HTTP_PORT) DEMO_DB=$(DEMO_DB) TEST_DB=$(TEST_DB) BENCH_DB=$(BENCH_DB)"
	@echo "  TESTS=$(TESTS)   test files or node ids, relative to the repository"
	@echo "      (tests: also the extension example's, examples/$(EXAMPLE)/tests)"
	@echo "  REUSE_DB=$(REUSE_DB)   make test in TEST_DB as it is, when installed (1)"
	@echo "  PYTEST_ARGS=$(PYTEST_ARGS)   e.g. PYTEST_ARGS='-k refund -x'"
	@echo "  ODOO_ARGS=$(ODOO_ARGS)   extra odoo-bin options for make run, e.g. '-u $(MODULE)'"
	@echo "  ODOO_LOG_LEVEL=$(ODOO_LOG_LEVEL)   Odoo log level during tests"
	@echo "  TEST_ODOO_DB=$(TEST_ODOO_DB) ODOO_TEST_ARGS=$(ODOO_TEST_ARGS)   make test-odoo: its database, extra odoo-bin options"
	@echo "  ODOO_SUITES=$(ODOO_SUITES)"
	@echo "      Odoo's suites make test-odoo also runs (empty: none)"
	@echo "  PGHOST/PGPORT/PGUSER   use that PostgreSQL server instead of .pg/"

# ---- set-up ------------------------------------------------------------------

setup: venv pg addons config ## prepare everything (venv, PostgreSQL, link, config)

venv: ## create/update .venv (only when the requirements changed)
	@dev/venv.sh $(ODOO_DIR)

pg: ## start PostgreSQL (private cluster in .pg/ unless PGHOST/... set)
	@dev/pg.sh start

addons: $(ADDON) $(EXAMPLE_ADDON)
$(ADDON):
	@mkdir -p $(dir $@)
	@ln -sfn .. $@
$(EXAMPLE_ADDON):
	@mkdir -p $(dir $@)
	@ln -sfn ../examples/$(EXAMPLE) $@

config: pg ## write .odoorc
	@dev/odoorc.sh $(ODOO_DIR) $(HTTP_PORT)

# ---- use ---------------------------------------------------------------------

run: setup ## install DEMO_DB with demo data if needed, serve it on HTTP_PORT
	@$(DB) ensure $(DEMO_DB)
	@$(DB) banner $(DEMO_DB) $(HTTP_PORT)
	@mkdir -p .odoo; echo $$$$ >.odoo/run.pid; exec $(ODOO_BIN) -d $(DEMO_DB) $(ODOO_ARGS)

stop: ## stop a server left by make run, and the private PostgreSQL
	@pid=$$(cat .odoo/run.pid 2>/dev/null || true); \
	if [[ -n $$pid ]] && grep -qs odoo-bin /proc/$$pid/cmdline 2>/dev/null; then \
		echo "stopping Odoo (pid $$pid)"; kill $$pid; \
		for _ in {1..50}; do kill -0 $$pid 2>/dev/null || break; sleep 0.2; done; \
	fi; \
	rm -f .odoo/run.pid
	@dev/pg.sh stop

test: setup ## new TEST_DB with the module, then pytest (TESTS, PYTEST_ARGS, REUSE_DB)
	@DB_MODULES=$(TEST_MODULES) $(DB) $(if $(REUSE_DB),ensure,fresh) $(TEST_DB) \
		--without-demo=all --log-level=$(ODOO_LOG_LEVEL)
	@# Through the link, so that pytest-odoo imports the tests as
	@# odoo.addons.stripe_connector.tests.* whatever the clone's folder name.
	@rc=0; \
	if [[ "$(TESTS)" == tests && ! -d tests ]]; then \
		echo "No tests/ folder yet."; rc=5; \
	else \
		ODOO_RC=$(ODOO_RC) PYTHONPATH=$(ODOO_DIR):$(CURDIR)/dev $(VENV)/bin/pytest \
			-c $(ADDON)/pyproject.toml -p pytest_harness \
			--rootdir=$(ADDON) --odoo-database=$(TEST_DB) --odoo-http \
			--odoo-log-level=$(ODOO_LOG_LEVEL) \
			--harness-count-file=$(CURDIR)/.odoo/test-counts/pytest \
			$(addprefix $(ADDON)/,$(TESTS)) \
			$(if $(filter tests,$(TESTS)),$(EXAMPLE_ADDON)/tests) \
			$(PYTEST_ARGS) || rc=$$?; \
	fi; \
	if [[ $$rc == 5 && -n "$(NO_TESTS_OK)" ]]; then \
		echo "No test collected (NO_TESTS_OK is set: not an error)."; rc=0; \
	fi; \
	exit $$rc

test-odoo: setup ## new TEST_ODOO_DB: odoo-bin -i + --test-tags the module, then ODOO_SUITES
	@ODOO_SRC=$(ODOO_DIR) ODOO_LOG_LEVEL=$(ODOO_LOG_LEVEL) \
		ODOO_TEST_ARGS='$(ODOO_TEST_ARGS)' dev/test-odoo.sh $(TEST_ODOO_DB) '$(ODOO_SUITES)'

test-upgrade: setup ## install UPGRADE_FROM's module with demo data, upgrade it, compare
	@ODOO_SRC=$(ODOO_DIR) UPGRADE_FROM=$(UPGRADE_FROM) dev/upgrade-test.sh $(UPGRADE_DB)

bench: setup ## new BENCH_DB with the module, then bench/run.py (if it exists)
	@if [[ ! -f bench/run.py ]]; then echo "bench/run.py does not exist yet"; exit 0; fi; \
	$(DB) fresh $(BENCH_DB) --without-demo=all --log-level=$(ODOO_LOG_LEVEL); \
	STRIPE_BENCH_DB=$(BENCH_DB) ODOO_RC=$(ODOO_RC) PYTHONPATH=$(ODOO_DIR) \
		$(VENV)/bin/python bench/run.py

# ---- translations and packaging ----------------------------------------------

pot: setup ## export i18n/stripe_connector.pot with Odoo's exporter, merge i18n/*.po
	@ODOO_SRC=$(ODOO_DIR) dev/pot.sh $(POT_DB)

wheel: venv ## build dist/odoo_addon_stripe_connector-*.whl with whool, check it
	@ODOO_SRC=$(ODOO_DIR) dev/wheel.sh $(CURDIR)/dist

# ---- code quality ------------------------------------------------------------

# All three run, so that one pass shows every problem. pylint runs through the
# link: pylint_odoo takes the module name from the folder name.
lint: venv addons ## ruff check, ruff format --check, pylint (pylint_odoo)
	@rc=0; set -x; \
	$(VENV)/bin/ruff check . || rc=1; \
	$(VENV)/bin/ruff format --check . || rc=1; \
	(cd .addons && PYTHONPATH=$(ODOO_DIR) $(VENV)/bin/pylint \
		--rcfile=$(CURDIR)/.pylintrc $(MODULE) $(EXAMPLE)) || rc=1; \
	{ set +x; } 2>/dev/null; exit $$rc

format: venv ## ruff format, then ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# ---- cleaning ----------------------------------------------------------------

clean: ## remove .venv, .addons and .odoorc
	rm -rf .venv .addons .odoorc

distclean: stop clean ## also remove the PostgreSQL cluster (.pg) and Odoo data (.odoo)
	@dev/pg.sh destroy
	rm -rf .odoo
