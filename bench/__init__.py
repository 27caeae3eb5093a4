"""Benchmarks and fault runs (``make bench-*``, ``make faults``): each prints its figure beside a
baseline measured in the same run. May import anything of this project.
"""
