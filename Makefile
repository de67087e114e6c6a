# One entry point for people and CI: `make run` serves, `make test` tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
# The tests run a real Keystone, and read a real freezer-api 19.0.0 database; each is
# installed from PyPI into its own virtualenv.
KEYSTONE_VENV ?= .venv-keystone
LEGACY_VENV ?= .venv-freezer-api-19
# pytest-xdist workers: a file's tests share one, so its session fixtures start once
TEST_WORKERS ?= auto

.PHONY: run test services try-cli lint typecheck check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

# mysqlclient builds against the MariaDB/MySQL client library: installed where its headers are
# (Debian: libmariadb-dev); elsewhere its tests are skipped, saying so.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	extras=test; if pkg-config --exists libmariadb || pkg-config --exists mysqlclient; then \
	    extras=test,mysqlclient; fi; $(PIP) install -e ".[$$extras]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(PIP) install -e '.[test,bench]'
	touch $@

$(KEYSTONE_VENV)/.installed:
	$(PYTHON) -m venv $(KEYSTONE_VENV)
	$(KEYSTONE_VENV)/bin/python -m pip --disable-pip-version-check --quiet install 'keystone>=26' 'gunicorn>=22'
	touch $@

$(LEGACY_VENV)/.installed:
	$(PYTHON) -m venv $(LEGACY_VENV)
	$(LEGACY_VENV)/bin/python -m pip --disable-pip-version-check --quiet install 'freezer-api==19.0.0'
	touch $@

## run: install, then serve on 127.0.0.1:9090 with the embedded SQLite database (ARGS=... for flags)
run: $(VENV)/.installed
	$(BIN)/freezer-api $(ARGS)

# The search tests' OpenSearch node: Maven Central artifacts and a launcher (Java 17, Maven)
OPENSEARCH_NODE := tests/opensearch/node
$(OPENSEARCH_NODE)/target/.built: $(OPENSEARCH_NODE)/pom.xml $(wildcard $(OPENSEARCH_NODE)/src/main/java/*/*/*/*/*.java)
	cd $(OPENSEARCH_NODE) && mvn -q -B package -DskipTests
	touch $@

## test: install what the tests need, then run the whole suite
test: $(VENV)/.installed-test $(KEYSTONE_VENV)/.installed $(LEGACY_VENV)/.installed $(OPENSEARCH_NODE)/target/.built
	FREEZER_TEST_KEYSTONE_VENV=$(KEYSTONE_VENV) FREEZER_TEST_LEGACY_VENV=$(LEGACY_VENV) \
	    $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile \
	    --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

## try-cli: a local Keystone with freezer-api registered; prints the OS_* lines for the official CLI
try-cli: $(VENV)/.installed-test $(KEYSTONE_VENV)/.installed
	FREEZER_TEST_KEYSTONE_VENV=$(KEYSTONE_VENV) $(BIN)/python -m tests.keystone.local $(ARGS)

## services: install postgresql-15, mariadb-server, galera-4, chromium... (Debian, as root) and start the databases for the tests
services:
	scripts/services

# ruff reads the code, not the package: it is all that lint installs
$(VENV)/.installed-lint: | $(BIN)/python
	$(PIP) install 'ruff>=0.6'
	touch $@

$(VENV)/.installed-typecheck: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[typecheck]'
	touch $@

lint: $(VENV)/.installed-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-typecheck
	$(BIN)/mypy

check: lint typecheck test

## bench: this server vs freezer-api 19.0.0 vs a bare WSGI app (by hand; needs wrk)
bench: $(VENV)/.installed-bench $(LEGACY_VENV)/.installed
	FREEZER_BENCH_LEGACY_VENV=$(LEGACY_VENV) $(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(KEYSTONE_VENV) $(LEGACY_VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
