"""Comparison reports over run directories: tables with CIs, paired tests against a baseline, plots.

The last stage of the pipeline: it reads what `evalkit run` wrote and never calls an engine or a
grader. `evalkit report` (reports/command.py) is the entry point.
"""
