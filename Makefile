# Two commands do everything on a fresh machine:
#   make run   - create .venv, install, build the synthetic demo store if missing, start the dashboard
#   make test  - create .venv, install, start a throwaway PostgreSQL + PostGIS server, run ruff, mypy and the
#                whole test suite on SQLite and on PostgreSQL (what CI runs)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
HOST ?= 127.0.0.1

.PHONY: run test venv demo lint typecheck bench clean pg

$(BIN)/.installed: requirements.txt requirements-test.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-test.txt
	# The project itself (the hospital-hotspots console script; `streamlit run` finds core/geo/planning).
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/python -m planning demo --if-missing

run: demo
	$(BIN)/python -m dashboard.serve --host $(HOST) --port $(PORT)

# The PostgreSQL test server (.ci/postgres.sh installs the Debian packages if missing and starts a local cluster).
pg:
	bash .ci/postgres.sh start

test: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	eval "$$(bash .ci/postgres.sh start | tail -n 1)" && $(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

bench: venv
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var
