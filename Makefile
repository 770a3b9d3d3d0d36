# `make demo` and `make test` are all a new user needs: both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where a machine keeps local wheels (the CPU torch), let pip find them.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet $(FIND_LINKS) torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# Peer libraries for the cross-library tests, without their torchvision/torchaudio
	# requirements (those builds do not import beside the CPU torch; tonic would also pull
	# librosa, which its import does not need); what they import comes with the dev extra.
	$(BIN)/python -m pip install --quiet --no-deps norse==1.1.0 sinabs==3.1.3 \
		spikingjelly==2.0.0 tonic==1.7.0
	touch $(STAMP)

demo: install
	$(BIN)/axonal demo

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m benchmarks.lif

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
