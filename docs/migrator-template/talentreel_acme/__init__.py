"""TalentReel migrator for ACME HR exports: the plugin part (the hook that describes it)."""

from talentreel.server import hookimpl

KIND = "acme-hr"
VERSION = "1.0"


@hookimpl
def talentreel_migrators():
    return [{"kind": KIND, "version": VERSION, "title": "ACME HR export (folder of CSV files)",
             "reader": "talentreel_acme.migrator:AcmeReader"}]
