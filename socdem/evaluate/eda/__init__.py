"""`make eda`: the contest at a glance, and whether the test users look like the training users."""
