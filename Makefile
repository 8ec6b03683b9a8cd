# make run   install into .venv, start RabbitMQ + SecantusDB if needed, load the demo county, start every service
# make test  the whole suite against real RabbitMQ and a throwaway SecantusDB
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# every service's package, from services.toml (the one list of services: docs/new-service.md)
SERVICE_PACKAGES := $(shell $(PYTHON) -c 'import tomllib; print(*(s["package"] for s in tomllib.load(open("services.toml", "rb"))["service"]))')
ifeq ($(strip $(SERVICE_PACKAGES)),)
$(error could not read the services' packages from services.toml with $(PYTHON) (Python 3.11 or later))
endif
PACKAGES := shared $(SERVICE_PACKAGES)
TEST_MONGODB_URI ?= mongodb://127.0.0.1:27018
PYTEST_ARGS ?=

.PHONY: install run test test-chaos test-unit bench clean packages

$(STAMP): services.toml deploy/system-packages.sh shared/pyproject.toml $(wildcard services/*/pyproject.toml) requirements-dev.txt
	deploy/system-packages.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check $(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
	touch $@

install: $(STAMP)

run: install
	$(PY) deploy/run.py

# Pytest sessions side by side (the suite mostly waits on RabbitMQ and MongoDB): the cross-service tests (tests/:
# contract, deploy, e2e, chaos) in the background, their output shown when they end; in the foreground the
# packages' own tests, then the console's browser tests, a session of their own without eventlet
# (tests/browser/conftest.py). Each test has its own vhost and database prefix, so the sessions never meet.
test: install
	deploy/system-packages.sh browser
	deploy/backing.sh up test
	mkdir -p test-output
	status=0; export MONGODB_URI=$${MONGODB_URI:-$(TEST_MONGODB_URI)}; \
	  $(PY) -m pytest tests $(PYTEST_ARGS) > test-output/cross-service.log 2>&1 & cross=$$!; \
	  $(PY) -m pytest shared services $(PYTEST_ARGS) || status=$$?; \
	  $(PY) -m pytest --confcutdir=tests/browser tests/browser $(BROWSER_PYTEST_ARGS) \
	    || { rc=$$?; [ $$status -ne 0 ] || status=$$rc; }; \
	  wait $$cross || { rc=$$?; [ $$status -ne 0 ] || status=$$rc; }; \
	  echo "---- tests/ (cross-service) ----"; cat test-output/cross-service.log; \
	  deploy/backing.sh down test; exit $$status

test-chaos: install
	deploy/backing.sh up test
	status=0; CHAOS_DEMANDS=$${CHAOS_DEMANDS:-2000} CHAOS_RABBIT=$${CHAOS_RABBIT:-1} CHAOS_CONCURRENCY=$${CHAOS_CONCURRENCY:-24} \
	  MONGODB_URI=$${MONGODB_URI:-$(TEST_MONGODB_URI)} $(PY) -m pytest tests/chaos -s $(PYTEST_ARGS) || status=$$?; \
	  deploy/backing.sh down test; exit $$status

test-unit: install
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

bench: install
	$(PY) bench/intake --start
	$(PY) bench/dispatch --start

packages:
	@echo $(PACKAGES)

clean:
	rm -rf $(VENV) .state .pytest_cache .hypothesis
