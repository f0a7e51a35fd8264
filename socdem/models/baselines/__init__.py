"""Baselines: TopClass (the training prior) and AuthorShare (the organisers' baseline)."""
