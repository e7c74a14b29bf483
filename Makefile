# Quick start: `make demo` and `make test`. Both create .venv when it is missing and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= cpu,md,shap,test,tutorials
comma := ,
STAMP := $(VENV)/.installed-$(shell cat setup.cfg requirements/pins.txt | cksum | cut -d' ' -f1)-$(subst $(comma),_,$(EXTRAS))
DEMO_OUT ?= demo-run
DEMO_DATA ?= data/alanine_dipeptide_vacuum/alanine_dipeptide_vacuum.npz
PYTEST_ARGS ?=

.PHONY: install demo test test-slow test-all bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) setup.cfg pyproject.toml requirements/pins.txt
	$(PY) -m pip install --quiet -c requirements/pins.txt -e ".[$(EXTRAS)]"
	$(PY) -m pip check
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# The main job on the bundled data: Bayesian searches, top-k retrained, tested, explained and exported, then the
# cross-model XAI report. Running it again resumes (and reprints) the same run.
demo: $(STAMP)
	$(VENV)/bin/committor-keras tune $(DEMO_DATA) --out $(DEMO_OUT) --config configs/demo.toml --seed 0
	$(VENV)/bin/committor-keras explain $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# pytest exits 5 when no test is marked slow: that is a pass here
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS) || [ $$? -eq 5 ]

test-all: $(STAMP)
	$(PY) -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

# Every benchmark, then BENCHMARKS.md. "Before" is main at bd6e259, checked out once to $(BEFORE).
BEFORE ?= /tmp/before
bench:
	$(MAKE) install EXTRAS=$(EXTRAS),bench
	test -d $(BEFORE) || git worktree add --detach $(BEFORE) bd6e259
	for script in bench/bench_*.py; do \
		COMMITTOR_BENCH_BEFORE=$(BEFORE) $(VENV)/bin/python -m bench.$$(basename $$script .py) || exit 1; done
	$(VENV)/bin/python -m bench.report

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build *.egg-info
