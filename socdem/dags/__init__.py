"""Orchestration of the pipeline by external engines (see socdem_dag.py)."""
