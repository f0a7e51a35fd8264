"""`make bench`: speed and memory figures (run.py), GENAPON's epoch time (genapon_epoch.py), the whole
experiment cold, a CatBoost change re-scored and a re-blend (end_to_end.py). Beside them: the pandas
reference of the label-free aggregates (reference_pandas.py, the yardstick the DuckDB build is timed and
tested against) and `python -m socdem.bench.gpu_check` (a small GENAPON run on CUDA)."""
