"""Operator command lines: the container health check and the configuration reference."""
