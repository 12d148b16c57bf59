# Two commands do everything on a fresh machine:
#   make run   - create .venv, install, build the synthetic demo store if missing, start the dashboard
#   make test  - create .venv, install, run the whole test suite (what CI runs)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test venv demo lint bench clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/python -m planning demo --if-missing

run: demo
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT) --server.headless true

test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: venv
	$(BIN)/ruff check .

bench: venv
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var
