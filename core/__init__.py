"""The shared domain: pollutants, the registry, emission standards, readings and their
rejection reasons (one ``Reason``, the HJ 212 codec's codes among them), RFC 3339 times
(``times``: one parser, one formatter), the clock, settings, and ``health``: the metrics and
``/ready`` port every long-running process serves. What every other package builds on.

May import: nothing of this project. Imported by every other package.
"""
