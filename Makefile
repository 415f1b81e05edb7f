# The two commands of the README:
#   make demo   creates/reuses .venv, runs the quick MNIST-1D study, prints results
#   make test   creates/reuses .venv (+ headless Chromium), runs the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo study test env browser lint bench clean

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c .ci/constraints.txt -e ".[test,dev]"
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/shedding demo

study: $(STAMP)  # the full MNIST-1D study (273 runs) and its findings in data/study/full/
	$(BIN)/shedding study full --jobs 2

browser:
	bash .ci/install-browser.sh

test: $(STAMP) browser
	$(BIN)/pytest -q; rc=$$?; if [ $$rc = 5 ]; then echo 'no tests were collected' >&2; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check shedding tracking dashboard tests benchmarks
	$(BIN)/ruff format --check shedding tracking dashboard tests benchmarks
	$(BIN)/mypy shedding tracking dashboard

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data/runs data/cache data/study
