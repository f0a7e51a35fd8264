"""`make bench`: speed and memory figures (run.py), GENAPON's epoch time (genapon_epoch.py)."""
