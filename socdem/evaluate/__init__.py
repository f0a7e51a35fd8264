"""Evaluation: the scorer, the leaderboard (with compare and ablate), the report and the EDA."""
