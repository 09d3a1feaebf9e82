"""The talent pool: tags drawn from analysis reports (and given by HR), an editable tag taxonomy,
and search over tags and transcripts that lands on the moment of a replay proving a hit.

Modules, one job each: `taxonomy` (tags, synonyms, renames, merges), `tagging` (a report's tagger
results into candidate tags; transcripts into the full-text index), `segment` (cutting text into
searchable words, jieba for Chinese), `fulltext` (the index per database), `query` (the query
language), `search` (running a query for a user), `shortlist` (compare, export, attach).
"""
