"""The shared domain: pollutants, the registry, emission standards, readings and their
rejection reasons, the clock, settings. What every other package builds on.

May import: nothing of this project. Imported by every other package.
"""
