"""Every hook a TalentReel plugin can implement, grouped by topic.

A plugin is a module (or object) with functions decorated ``@talentreel.server.hookimpl`` and named
like the specs below; it may implement any subset. Built-in plugins (``talentreel.plugins.*``) are
registered exactly like third-party ones, which come from the ``talentreel`` entry-point group or
the ``plugins`` setting.

Rule of the house: hooks describe, workers do. A hook called on the web side returns descriptions
(names, versions, dotted paths, votes) and never runs heavy work; analyzers and migrators are run by
RQ workers from the dotted paths their hooks return.

How results combine is stated in each docstring: *collected* (pluggy returns the list of every
non-None result, last-registered plugin first), *first non-None* (``firstresult``), or *any deny wins*.
"""

import pluggy

hookspec = pluggy.HookspecMarker("talentreel")


# --- application ------------------------------------------------------------------------------


@hookspec
def talentreel_startup(app):
    """Called once per application, after configuration, database and plugins are set up and
    before the first request. Register blueprints, CLI-independent routes or template globals here.

    :param app: the Flask application being created (``app.extensions["talentreel"]`` holds the
        frozen settings and the plugin manager).
    :returns: ignored (return None).
    Combining: every implementation is called (collected); an exception stops start-up with the
    plugin named in the error.
    """


# --- storage ----------------------------------------------------------------------------------


@hookspec
def talentreel_storage_backends():
    """Offer storage backends for recordings and their derived media.

    :returns: a dict mapping backend name (``"local"``, ``"s3"``, ...) to a factory
        ``factory(settings) -> backend``; the backend object provides ``put(key, fileobj)``,
        ``open(key)`` (a binary file object supporting ``seek``), ``delete(key)``, ``exists(key)``,
        ``size(key)`` and ``keys(prefix)``; backends with tiers add ``tier(key)`` and
        ``set_tier(key, "hot"|"cold")`` (docs/storage.md).
    Combining: collected; the dicts are merged and a name offered twice stops start-up naming both
    plugins. The ``storage_backend`` setting picks one.
    """


# --- analysis ---------------------------------------------------------------------------------


@hookspec
def talentreel_analyzers():
    """Describe analyzers the ``analysis`` job can run on a recording.

    :returns: a list of dicts ``{"name": str, "version": str, "run": "dotted.path:function",
        "needs": ["audio"|"video"|"transcript", ...], "consent": "ai"|"vision_voice"}``. The worker
        imports ``run`` (so the web side never imports heavy libraries) and calls it with the
        recording's media; its result goes into the report under ``name``, with ``version``.
    Combining: collected and concatenated; a name offered twice stops start-up naming both plugins.
    """


@hookspec
def talentreel_taggers():
    """Describe taggers that turn a finished report into candidate tags with evidence moments.

    :returns: a list of dicts ``{"name": str, "version": str, "run": "dotted.path:function"}``;
        ``run(report_data, taxonomy)`` returns ``[{"tag": name, "kind": kind, "score": float,
        "evidence": [{"start": s, "end": s, "why": text}]}]``.
    Combining: collected and concatenated; every tagger runs, each tag keeps its tagger as source.
    """


# --- permissions ------------------------------------------------------------------------------


@hookspec
def talentreel_permission(user, action, obj):
    """Vote on whether ``user`` may perform ``action`` on ``obj``.

    :param user: the acting ``models.User`` (never None: anonymous requests are refused before
        the hook is asked).
    :param action: a string such as ``"candidate.view"``, ``"recording.view"``, ``"report.view"``,
        ``"opening.edit"``, ``"admin.access"`` (permissions.ACTIONS lists them all).
    :param obj: the model instance acted on, or None for actions on a collection or the system.
    :returns: ``False`` to deny, ``True`` to allow, ``None`` to abstain.
    Combining: any deny wins. Every vote is collected; one ``False`` refuses the action, otherwise
    at least one ``True`` is needed. The built-in default policy (``talentreel.plugins.policy``)
    is registered ``trylast``, so a plugin can only narrow what it grants or add allowances for
    actions it abstains on; with no ``True`` at all the answer is no.
    """


@hookspec
def talentreel_permission_prefetch(user, action, objs):
    """Read at once what ``talentreel_permission`` will need for each of many objects, before it
    is asked about each: a list page or a search page checks its rows as one batch
    (``permissions.visible``), and one query per row for each plugin does not scale.

    :param user: the acting ``models.User``; ``user.access_cache()`` is a dict that lives for this
        batch only (a role change still applies from the next request): keep what was read there,
        under a key of your own, and look it up in ``talentreel_permission``.
    :param action: the action every object of the batch is checked for, e.g. ``"candidate.view"``.
    :param objs: the model instances of the batch (a list; may mix kinds).
    :returns: nothing (the return value is ignored).
    Combining: every implementation is called once per batch; ``talentreel_permission`` is still
    asked about each object afterwards and decides as always (any deny wins). Optional: a plugin
    without it is simply asked per object.
    """


@hookspec
def talentreel_candidate_erased(candidate_id):
    """Forget what a plugin keeps about a candidate who is being erased (search index entries,
    caches, copies in external systems). Called after the candidate's key was destroyed and their
    stored objects deleted, before their rows are.

    :param candidate_id: the id of the candidate being erased (its rows still exist during the call).
    :returns: nothing (the return value is ignored).
    Combining: every implementation is called; one that raises stops the erasure before any row is
    deleted (the key and objects are gone already), so the erasure can be run again once fixed.
    """


# --- migration --------------------------------------------------------------------------------


@hookspec
def talentreel_migrators():
    """Describe migrators that read a legacy system into canonical records.

    :returns: a list of dicts ``{"kind": str, "version": str, "title": str,
        "reader": "dotted.path:ReaderClass"}``; ``kind`` is what ``talentreel migrate KIND PATH``
        names, the reader is imported by the ``migration`` worker.
    Combining: collected and concatenated; a kind offered twice stops start-up naming both plugins.
    """
