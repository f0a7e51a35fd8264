"""`make bench`: speed and memory figures (run.py), GENAPON's epoch time (genapon_epoch.py), the whole
experiment cold, a CatBoost change re-scored and a re-blend (end_to_end.py)."""
