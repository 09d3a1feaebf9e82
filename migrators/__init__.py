"""The migration framework and the built-in migrators (see docs/migrators.md).

A migrator plugin's reader turns a legacy system into canonical records (records.py); the
framework (framework.py) plans, loads with a journal, sends recordings through the media job,
reports, and rolls back. `legacy_export` is the built-in migrator for the folder export of older
interview systems.
"""
