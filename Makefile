# The two commands of the README. Both create .venv with the machine's python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo-figures

.PHONY: demo test venv venv-test clean bench

$(VENV)/.base:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[torch,test,bench]'
	touch $@

venv: $(VENV)/.base
venv-test: $(VENV)/.test

demo: $(VENV)/.base
	$(VENV)/bin/dynsys verify
	$(VENV)/bin/dynsys figures --quick --outdir $(DEMO_DIR)
	@echo "figures written to $(DEMO_DIR)/"

test: $(VENV)/.test
	$(PY) -m pytest -n 2 -q tests

bench: $(VENV)/.test
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_DIR)
