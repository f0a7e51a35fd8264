# socdem — `make help` lists the targets. EXP=<name> picks experiments/<name>.toml,
# DATA=<dir> a contest folder, SET="key=value ..." overrides. Each target runs the earlier stages it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

EXP ?= default
DATA ?= data/raw
USERS ?=
FAMILY ?= author_tastes
SOURCE ?=
SEED ?= 0
LAYOUT ?= rutube2024
FORMAT ?=
TRIALS ?=
WORKERS ?=
STORAGE ?=
SET ?=
SCALE ?=
MODELS ?=
BENCH ?=
PIPELINE_USERS ?=
A ?=
B ?=
SUB ?=
SCORE ?=
TRUTH ?=
PYTHON ?= python3

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN := OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 PYTHONHASHSEED=0 $(PY) -m socdem
# quoted: DATA, SUB and TRUTH may hold spaces (make score "SUB=my subs/a.csv")
ARGS = --exp "$(EXP)" --data "$(DATA)" --set "$(SET)"
# `make leaderboard` filters by DATA only when it is given (else: the latest row's contest)
DATA_GIVEN = $(if $(filter command line environment,$(origin DATA)),$(DATA),)

.PHONY: help all setup data features train tune submit score leaderboard compare ablate bench report eda lb ui tune-ui dag test lint clean

help: ## list the targets
	@echo "usage: make <target> [EXP=default] [DATA=data/raw] [SET=\"catboost.depth=8 genapon.epochs=6\"]"
	@echo "  SET= overrides the experiment (TOML values, checked like the file); the run is EXP plus a hash of them"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# every package is pinned, so pip processes install 30 pins each, four at a time, without resolving (pip
# unpacks one wheel at a time), and `pip check` then fails on any dependency the file lacks. Byte-compiled
# afterwards on every core, where pip compiles one file at a time; a file this Python cannot compile (a test
# file of torch's) is skipped, as pip skips it. The packages' own test folders are left out: nothing here
# imports them
PIP_INSTALL := $(VENV)/bin/pip install --quiet --disable-pip-version-check --no-compile --no-deps
$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	grep -E '^[^#[:space:]]' requirements.txt | xargs -P 4 -n 30 $(PIP_INSTALL)
	$(VENV)/bin/pip check --disable-pip-version-check
	$(VENV)/bin/python -m compileall -q -j 0 -x '/tests/' $(VENV)/lib >/dev/null 2>&1 || true
	touch $@

setup: $(STAMP) ## create .venv and install the pinned requirements (once)

all: $(STAMP) ## setup, data (if none), features, train, submit, then score against the synthetic truth
	$(RUN) data $(ARGS) --users "$(USERS)" --seed "$(SEED)" --family "$(FAMILY)"
	$(RUN) features $(ARGS)
	$(RUN) train $(ARGS)
	$(RUN) submit $(ARGS)
	$(RUN) score $(ARGS) --sub "$(SUB)" --truth "$(TRUTH)" --if-truth

data: $(STAMP) ## write a synthetic contest to DATA (FAMILY=, USERS=, SEED=, LAYOUT=jmlc) or a real one (SOURCE=movielens-100k); never overwrites a contest
	$(RUN) data $(ARGS) --users "$(USERS)" --seed "$(SEED)" --layout "$(LAYOUT)" --family "$(FAMILY)" --source "$(SOURCE)"

features: $(STAMP) ## build and cache the label-free features
	$(RUN) features $(ARGS)

train: $(STAMP) ## K-fold CV of every model of EXP (MODELS=a,b: only those): out-of-fold and test predictions
	$(RUN) train $(ARGS) --models "$(MODELS)"

tune: $(STAMP) ## Optuna search (TRIALS=, WORKERS=, STORAGE=); the study resumes
	$(RUN) tune $(ARGS) --trials "$(TRIALS)" --workers "$(WORKERS)" --storage "$(STORAGE)"

submit: $(STAMP) ## write submissions/RUN.csv (FORMAT=rutube2024 for the contest columns) and log it
	$(RUN) submit $(ARGS) --format "$(FORMAT)"

score: $(STAMP) ## score SUB= (default: this run's) against TRUTH= (default: DATA's oracle/ or truth/ test_truth.csv), beside the oracle
	$(RUN) score $(ARGS) --sub "$(SUB)" --truth "$(TRUTH)"

leaderboard: $(STAMP) ## did it help? CV mean±std, best single, gain, public (DATA= one contest or all, MODELS=1 per model)
	$(RUN) leaderboard $(ARGS) --only-data "$(DATA_GIVEN)" --models "$(MODELS)"

compare: $(STAMP) ## B − A with 95% paired-bootstrap intervals: make compare A=default B="default genapon.epochs=1"
	$(RUN) compare $(ARGS) --a "$(A)" --b "$(B)"

ablate: $(STAMP) ## each feature family off, each model out vs the full run (MODELS= retrained); reports/RUN/ablation.md
	$(RUN) ablate $(ARGS) --models "$(MODELS)"

bench: $(STAMP) ## speed and memory figures in bench/results.json (BENCH=features,genapon,pipeline; PIPELINE_USERS=; SCALE=1: cost growth with the size)
	$(RUN) bench $(ARGS) --parts "$(BENCH)" --pipeline-users "$(PIPELINE_USERS)" $(if $(SCALE),--scale,)

report: $(STAMP) ## ROC / PR / calibration / importance / leaderboard plots in reports/RUN/
	$(RUN) report $(ARGS)

eda: $(STAMP) ## the contest at a glance + adversarial validation (test vs labelled users) in reports/eda/
	$(RUN) eda $(ARGS)

lb: $(STAMP) ## record the public score of a submission: make lb SUB=<csv> SCORE=<number> (SUB default: this run's)
	$(RUN) lb $(ARGS) --sub "$(SUB)" --score "$(SCORE)"

ui: $(STAMP) ## MLflow's UI on every tracked run (SOCDEM_HOME/mlflow.db), on 127.0.0.1 at a free port; Ctrl-C stops it
	$(RUN) ui $(ARGS)

tune-ui: $(STAMP) ## optuna-dashboard on EXP's tuning study (its journal file, or STORAGE=); Ctrl-C stops it
	$(RUN) tune-ui $(ARGS) --storage "$(STORAGE)"

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

# test files spread over TEST_WORKERS processes (pytest-xdist); the pipeline's own commands still pin 2 threads
# (RUN), so one BLAS thread in each test process only keeps the workers from contending
TEST_WORKERS ?= 2
test: $(STAMP) ## run the test suite (TEST_WORKERS=2 processes)
	OMP_NUM_THREADS=1 PYTHONHASHSEED=0 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile tests

lint: $(STAMP) ## ruff check and ruff format --check (settings in pyproject.toml)
	$(VENV)/bin/ruff check socdem tests
	$(VENV)/bin/ruff format --check socdem tests

clean: ## remove artifacts, submissions and reports (never data/raw)
	rm -rf artifacts reports submissions catboost_info
