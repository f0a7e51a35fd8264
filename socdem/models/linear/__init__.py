"""The sparse linear model: TF-IDF of a user's items -> logistic regression with C by inner CV."""
