"""Pipeline stages, in order: folds, train, tune, blend (with its thresholds), submission and submit."""
