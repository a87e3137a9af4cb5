# The two commands a fresh machine needs: `make serve` (a ready demo on SQLite) and
# `make test` (every test, on SQLite and on the PostgreSQL at 127.0.0.1:5432).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install browser serve test test-fast lint bench-setup bench bench-smoke clean
SMOKE_RESULTS ?= /tmp/hashwall-bench-smoke.md

$(BIN)/hashwall: pyproject.toml setup.py index/_mih.c matcher/_pdq.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/hashwall

serve: install
	$(BIN)/hashwall demo
	$(BIN)/hashwall serve --host $(HOST) --port $(PORT)

# The UI tests drive Debian's chromium through Playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

test: install browser
	$(BIN)/python -m pytest

# While working: SQLite only, no process killing, spread over the cores (about a minute).
# `make test` stays the whole suite, PostgreSQL included, and is what CI runs.
test-fast: install browser
	$(BIN)/python -m pytest -q -n auto -m "not slow" -k "not postgresql"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The benchmarks need the public Debian image corpus, wrk and FFmpeg's headers (Debian
# packages) before the peers (python-threatexchange, vpdq) are installed.
bench-setup: install
	bash benchmarks/setup.sh
	$(BIN)/pip install --quiet -e '.[dev,bench]'

bench: bench-setup
	$(BIN)/python benchmarks/hash_bench.py
	$(BIN)/python benchmarks/threshold_bench.py
	$(BIN)/python benchmarks/variant_bench.py
	for n in 100000 1000000 10000000; do $(BIN)/python benchmarks/index_bench.py --n $$n; done
	$(BIN)/python benchmarks/index_bench.py --data clustered
	$(BIN)/python benchmarks/index_bench.py --data real
	$(BIN)/python benchmarks/api_bench.py
	$(BIN)/python benchmarks/api_bench.py --workers 2
	$(BIN)/python benchmarks/moderation_bench.py
	for n in 1000000 10000000; do $(BIN)/python benchmarks/ingest_bench.py --n $$n; done
	$(BIN)/python benchmarks/video_bench.py
	$(BIN)/python benchmarks/sweep_bench.py

# Every benchmark at a tiny size, so none can rot; figures go to a scratch file.
bench-smoke: bench-setup
	$(BIN)/python benchmarks/hash_bench.py --limit 4 --results $(SMOKE_RESULTS)
	$(BIN)/python benchmarks/threshold_bench.py --photos 6 --clipart 40 --results $(SMOKE_RESULTS)
	$(BIN)/python benchmarks/variant_bench.py --photos 4 --clipart 40 --results $(SMOKE_RESULTS)
	for data in uniform clustered real; do \
	  $(BIN)/python benchmarks/index_bench.py --data $$data --n 5000 --queries 100 --recall-queries 20 --results $(SMOKE_RESULTS); \
	done
	$(BIN)/python benchmarks/api_bench.py --bank-size 5000 --duration 1 --images 3 --moderation-rounds 1 --results $(SMOKE_RESULTS)
	$(BIN)/python benchmarks/moderation_bench.py --bank-size 5000 --duration 1 --rounds 1 --results $(SMOKE_RESULTS)
	$(BIN)/python benchmarks/ingest_bench.py --n 5000 --samples 3 --results $(SMOKE_RESULTS)
	$(BIN)/python benchmarks/sweep_bench.py --ledger 20000 --page 1000 --copies 100 --results $(SMOKE_RESULTS)
	$(BIN)/python benchmarks/video_bench.py --seconds 5 --videos 1 --composite 12 --slideshows 2 --results $(SMOKE_RESULTS)

clean:
	rm -rf $(VENV) hashwall.db hashwall.db-wal hashwall.db-shm
