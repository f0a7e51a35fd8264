# socdem — `make help` lists the targets. EXP=<name> picks experiments/<name>.toml,
# DATA=<dir> a contest folder. Each target runs the earlier stages it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

EXP ?= default
DATA ?= data/raw
USERS ?= 50000
SEED ?= 0
LAYOUT ?= rutube2024
FORMAT ?=
TRIALS ?=
WORKERS ?=
STORAGE ?=
SUB ?= submissions/$(EXP).csv
SCORE ?=
TRUTH ?= $(DATA)/oracle/test_truth.csv
PYTHON ?= python3

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN := OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 PYTHONHASHSEED=0 $(PY) -m socdem
ARGS := --exp $(EXP) --data $(DATA)

.PHONY: help all setup data features train tune submit score leaderboard bench report eda lb dag test lint clean

help: ## list the targets
	@echo "usage: make <target> [EXP=default] [DATA=data/raw]"
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

setup: $(STAMP) ## create .venv and install the pinned requirements (once)

all: $(STAMP) ## setup, data (if none), features, train, submit, then score against the synthetic truth
	$(RUN) data $(ARGS) --users $(USERS) --seed $(SEED)
	$(RUN) features $(ARGS)
	$(RUN) train $(ARGS)
	$(RUN) submit $(ARGS)
	@if [ -f $(TRUTH) ]; then $(RUN) score $(ARGS) --sub $(SUB) --truth $(TRUTH); fi

data: $(STAMP) ## write a synthetic contest to DATA (USERS=, SEED=, LAYOUT=jmlc); never overwrites real data
	$(RUN) data $(ARGS) --users $(USERS) --seed $(SEED) --layout $(LAYOUT)

features: $(STAMP) ## build and cache the label-free features
	$(RUN) features $(ARGS)

train: $(STAMP) ## K-fold CV of every model of EXP: out-of-fold and test predictions
	$(RUN) train $(ARGS)

tune: $(STAMP) ## Optuna search (TRIALS=, WORKERS=, STORAGE=); the study resumes
	$(RUN) tune $(ARGS) --trials "$(TRIALS)" --workers "$(WORKERS)" --storage "$(STORAGE)"

submit: $(STAMP) ## write submissions/EXP.csv (FORMAT=rutube2024 for the contest columns) and log it
	$(RUN) submit $(ARGS) --format "$(FORMAT)"

score: $(STAMP) ## score SUB= against TRUTH= (default: the synthetic truth), beside the oracle
	$(RUN) score $(ARGS) --sub $(SUB) --truth $(TRUTH)

leaderboard: $(STAMP) ## print the leaderboard log, sorted by CV ROC-AUC
	$(RUN) leaderboard $(ARGS)

bench: $(STAMP) ## speed and memory figures, written to bench/results.json
	$(RUN) bench $(ARGS)

report: $(STAMP) ## ROC / PR / calibration / importance plots in reports/EXP/
	$(RUN) report $(ARGS)

eda: $(STAMP) ## the contest at a glance + adversarial validation (test vs labelled users) in reports/eda/
	$(RUN) eda $(ARGS)

lb: $(STAMP) ## record the public score of a submission: make lb SUB=<csv> SCORE=<number>
	$(RUN) lb $(ARGS) --sub "$(SUB)" --score "$(SCORE)"

# `make dag`: Airflow in its own virtualenv; by default the fast experiment on a tiny synthetic
# contest, with Airflow's state and the run's artifacts under artifacts/dag/ (nothing in ~).
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
DAG_DIR := artifacts/dag
AIRFLOW := AIRFLOW_HOME=$(abspath $(DAG_DIR)/airflow) AIRFLOW__CORE__DAGS_FOLDER=$(abspath socdem/dags) \
	AIRFLOW__CORE__LOAD_EXAMPLES=False SOCDEM_HOME=$(DAG_DIR)/home $(AIRFLOW_VENV)/bin/airflow
dag: EXP = fast
dag: DATA = $(DAG_DIR)/raw
dag: USERS = 1500

$(AIRFLOW_STAMP): requirements-airflow.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-airflow.txt
	touch $@

dag: $(STAMP) $(AIRFLOW_STAMP) ## run the Airflow DAG once (airflow dags test; default EXP=fast on a tiny synthetic contest)
	$(AIRFLOW) db migrate > /dev/null
	$(AIRFLOW) dags reserialize > /dev/null
	$(AIRFLOW) dags show socdem
	time $(AIRFLOW) dags test socdem -c '{"exp": "$(EXP)", "data": "$(DATA)", "users": $(USERS)}'

test: $(STAMP) ## run the test suite
	OMP_NUM_THREADS=2 PYTHONHASHSEED=0 $(PY) -m pytest -q tests

lint: $(STAMP) ## ruff check and ruff format --check (settings in pyproject.toml)
	$(VENV)/bin/ruff check socdem tests
	$(VENV)/bin/ruff format --check socdem tests

clean: ## remove artifacts, submissions and reports (never data/raw)
	rm -rf artifacts reports submissions catboost_info
