# One entry point for set-up, demo and tests; everything runs inside .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MUC3 ?= ../shared/data/muc3/dev.tsv
AEB ?= ../shared/benchmarks/aeb
TRAFILATURA_EVAL ?= ../shared/benchmarks/trafilatura-eval

.PHONY: demo test bench install clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for tests/test_report_html.py (the crawl report rendered in a real browser),
# installed when missing; where apt-get cannot run (not root) that test skips, except in CI.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
		|| echo "make: could not install chromium (apt-get needs root): tests/test_report_html.py will skip"

test: $(STAMP) chromium
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m crawler.demo --out out/demo.jsonl

# Benchmarks compare with other libraries (extra "bench"); data sets come from ../shared.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/datelines.py $(MUC3)
	$(BIN)/python benchmarks/extraction.py --aeb $(AEB) --trafilatura-eval $(TRAFILATURA_EVAL)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) out state
