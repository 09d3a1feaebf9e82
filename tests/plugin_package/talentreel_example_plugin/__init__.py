"""An example third-party plugin: it implements every TalentReel hook once.

The test suite pip-installs this package and checks that TalentReel loads it through its entry
point; partners can copy it as a starting point.
"""

import io

from talentreel.server import hookimpl

__version__ = "1.2.3"


class MemoryStorage:
    """A storage backend keeping objects in a dict (for tests and examples only)."""

    def __init__(self):
        self.objects = {}

    def put(self, key, fileobj):
        data = fileobj.read()
        self.objects[key] = data
        return len(data)

    def open(self, key):
        return io.BytesIO(self.objects[key])

    def exists(self, key):
        return key in self.objects

    def size(self, key):
        return len(self.objects[key])

    def delete(self, key):
        self.objects.pop(key, None)


@hookimpl
def talentreel_startup(app):
    @app.get("/-/example")
    def example_page():
        return {"plugin": "example", "version": __version__}


@hookimpl
def talentreel_storage_backends():
    return {"memory": lambda settings: MemoryStorage()}


@hookimpl
def talentreel_analyzers():
    return [{"name": "example-word-count", "version": "1.0", "run": "talentreel_example_plugin:count_words", "needs": ["transcript"], "consent": "ai"}]


def count_words(transcript):
    return {"words": len(transcript.split())}


@hookimpl
def talentreel_taggers():
    return [{"name": "example-tagger", "version": "1.0", "run": "talentreel_example_plugin:tag"}]


def tag(report_data, taxonomy):
    return []


@hookimpl
def talentreel_permission(user, action, obj):
    # A plugin can narrow the default policy: nobody may delete candidates through the UI or API.
    if action == "candidate.delete":
        return False
    return None


@hookimpl
def talentreel_permission_prefetch(user, action, objs):
    # Called once before a page of rows is checked one by one: a plugin whose rule reads the
    # database reads it here for the whole page and keeps it in user.access_cache() (this rule
    # needs nothing, so it keeps nothing).
    return None


@hookimpl
def talentreel_migrators():
    return [{"kind": "example-csv", "version": "1.0", "title": "Example CSV", "reader": "talentreel_example_plugin:Reader"}]


class Reader:
    pass


ERASED: list[int] = []
"""Candidates this plugin was told to forget (a real plugin would drop its index entries)."""


@hookimpl
def talentreel_candidate_erased(candidate_id):
    ERASED.append(candidate_id)
