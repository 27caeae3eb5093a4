"""Judging rules: pure functions of the data, no I/O."""
