"""CatBoost: the estimator (early stopping on an inner split), its runner and its tuned parameters."""
