"""AI analysis of recordings: the contract between the `analysis` job and analyzer plugins.

Analyzer plugins describe themselves through the `talentreel_analyzers` hook; the job imports each
one's `run` (and, once per worker process, its `preload`) by dotted path and calls it with an
AnalysisInput. Each returns a JSON-serialisable part of the report.
"""
