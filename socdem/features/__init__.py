"""Features: label-free user features (cached) and out-of-fold encoders."""
