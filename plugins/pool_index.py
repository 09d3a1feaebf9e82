"""Built-in plugin `pool_index`: the talent pool's full-text index forgets an erased candidate.

Their transcript passages are deleted and, on SQLite, the FTS5 index is merged so that no old
index segment still carries their words (server/pool/fulltext.py). Tags and evidence go with the
candidate's rows.
"""

from __future__ import annotations

from talentreel.server.plugins import hookimpl


@hookimpl
def talentreel_candidate_erased(candidate_id):
    from talentreel.server.db import database
    from talentreel.server.pool.fulltext import backend_for

    backend_for(database).forget(database, candidate_id)
