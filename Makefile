# socdem — `make help` lists the targets. EXP=<name> picks experiments/<name>.toml,
# DATA=<dir> a contest folder. Each target runs the earlier stages it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

EXP ?= default
DATA ?= data/raw
USERS ?= 50000
SEED ?= 0
FORMAT ?=
SUB ?= submissions/$(EXP).csv
TRUTH ?= $(DATA)/oracle/test_truth.csv
PYTHON ?= python3

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN := OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 PYTHONHASHSEED=0 $(PY) -m socdem
ARGS := --exp $(EXP) --data $(DATA)

.PHONY: help all setup data features train tune submit score leaderboard bench report lb dag test clean

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

data: $(STAMP) ## write a synthetic contest to DATA (USERS=, SEED=); never overwrites real data
	$(RUN) data $(ARGS) --users $(USERS) --seed $(SEED)

features: $(STAMP) ## build and cache the label-free features
	$(RUN) features $(ARGS)

train: $(STAMP) ## K-fold CV of every model of EXP: out-of-fold and test predictions
	$(RUN) train $(ARGS)

tune: $(STAMP) ## Optuna search (TRIALS=, WORKERS=, STORAGE=); the study resumes
	$(RUN) tune $(ARGS)

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

lb: $(STAMP) ## record the public score of a submission: make lb SUB=<csv> SCORE=<number>
	$(RUN) lb $(ARGS)

dag: $(STAMP) ## run the Airflow DAG once (airflow dags test)
	$(RUN) dag $(ARGS)

test: $(STAMP) ## run the test suite
	OMP_NUM_THREADS=2 PYTHONHASHSEED=0 $(PY) -m pytest -q tests

clean: ## remove artifacts, submissions and reports (never data/raw)
	rm -rf artifacts reports submissions catboost_info
