"""The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json.

Written out here in one table rather than gathered from docstrings: request bodies come from the
same field declarations that validate them (fields.py), response bodies from the schemas beside
the serializers, and tests/test_api.py checks that this table and the blueprint's routes name the
same operations. The text is for developers integrating with TalentReel, so it is not translated.
"""

from __future__ import annotations

from functools import cache

from flask import jsonify

from ... import __version__
from .. import defaults
from . import api_bp, candidates, interviews, openings, reviews, search, serializers
from .fields import ID_SCHEMA, body_schema
from .pagination import MAX_PAGE


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _page(name: str) -> dict:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": defaults.API_MAX_PAGE_SIZE},
            "total": {"type": "integer", "minimum": 0},
        },
        "required": ["items", "page", "per_page", "total"],
        "additionalProperties": False,
    }


def _id_param(name: str, what: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": f"Id of the {what}.",
            "schema": dict(ID_SCHEMA), "example": 1}


PAGE_PARAMS = [
    {"name": "page", "in": "query", "required": False, "description": "Page number, from 1.",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
    {"name": "per_page", "in": "query", "required": False, "description": "Items per page.",
     "schema": {"type": "integer", "minimum": 1, "maximum": defaults.API_MAX_PAGE_SIZE, "default": defaults.API_PAGE_SIZE}},
]


def _operation(operation_id: str, tag: str, summary: str, *, ok: int = 200, result: dict | None = None,
               result_text: str = "Success.", params=(), body: dict | None = None, errors=(401,), public: bool = False) -> dict:
    op: dict = {"operationId": operation_id, "tags": [tag], "summary": summary}
    if params:
        op["parameters"] = list(params)
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    responses: dict = {str(ok): _json(result, result_text) if result is not None else {"description": result_text}}
    for status in errors:
        responses[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
    op["responses"] = responses
    if public:
        op["security"] = []
    return op


def _list(operation_id, tag, summary, schema_name, params=()):
    return _operation(operation_id, tag, summary, result=_page(schema_name), params=[*params, *PAGE_PARAMS],
                      errors=(400, 401, 403) if not params else (400, 401, 404))


def _create(operation_id, tag, summary, schema_name, fields):
    return _operation(operation_id, tag, summary, ok=201, result=_ref(schema_name), result_text="Created.",
                      body=body_schema(fields, creating=True), errors=(400, 401, 403, 413))


def _get(operation_id, tag, summary, schema_name, param):
    return _operation(operation_id, tag, summary, result=_ref(schema_name), params=[param], errors=(401, 404))


def _update(operation_id, tag, summary, schema_name, param, fields):
    return _operation(operation_id, tag, summary, result=_ref(schema_name), params=[param],
                      body=body_schema(fields, creating=False), errors=(400, 401, 403, 404, 413))


CANDIDATE_ID = _id_param("candidate_id", "candidate")
OPENING_ID = _id_param("opening_id", "opening")
INTERVIEW_ID = _id_param("interview_id", "interview")
RECORDING_ID = _id_param("recording_id", "recording")

ERROR_RESPONSES = {
    400: ("BadRequest", "The request is not acceptable; `field` names the offending body member or query parameter."),
    401: ("Unauthorized", "No API token, or one that is invalid or revoked, or whose user is disabled."),
    403: ("Forbidden", "The caller may see the object (or list) but not perform this action."),
    404: ("NotFound", "No such object, or one the caller may not see."),
    413: ("TooLarge", "The request body is larger than the API accepts."),
}

SEARCH_PARAMS = [
    {"name": "q", "in": "query", "required": True, "description": "The query (talent pool query language).",
     "schema": {"type": "string", "minLength": 1, "maxLength": 500}, "example": "negotiation>=0.6 OR \"full price\""},
    {"name": "page", "in": "query", "required": False, "description": "Page number, from 1; pages stop at 1000 results.",
     "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1}},
    {"name": "per_page", "in": "query", "required": False, "description": "Hits per page.",
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
]

_MOMENT = {"type": "object", "description": "A moment of a replay that makes the candidate a hit.", "properties": {
    "recording_id": {"type": "integer", "minimum": 1}, "second": {"type": "number"}, "end": {"type": "number"},
    "snippet": {"type": "string"}, "why": {"type": "string"},
    "url": {"type": "string", "description": "The replay page, opened at that second."}},
    "required": ["recording_id", "second", "end", "snippet", "why", "url"], "additionalProperties": False}
_HIT_TAG = {"type": "object", "properties": {
    "name": {"type": "string"}, "label": {"type": "string"}, "kind": {"type": "string"},
    "score": {"type": ["number", "null"]}, "source": {"type": "string"}},
    "required": ["name", "label", "kind", "score", "source"], "additionalProperties": False}
SEARCH_RESULT_SCHEMA = {"type": "object", "properties": {
    "query": {"type": "string"},
    "items": {"type": "array", "items": {"type": "object", "properties": {
        "candidate": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                      "required": ["id", "name"], "additionalProperties": False},
        "tags": {"type": "array", "items": _HIT_TAG},
        "moments": {"type": "array", "items": _MOMENT}},
        "required": ["candidate", "tags", "moments"], "additionalProperties": False}},
    "page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1},
    "total": {"type": "integer", "minimum": 0, "maximum": 1000},
    "total_capped": {"type": "boolean", "description": "More candidates match than are counted."},
    "notes": {"type": "array", "items": {"type": "string"}, "description": "Caps that applied (very frequent words, totals)."}},
    "required": ["query", "items", "page", "per_page", "total", "total_capped", "notes"], "additionalProperties": False}
SAVED_SEARCH_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer", "minimum": 1}, "name": {"type": "string"}, "query": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}},
    "required": ["id", "name", "query", "created_at"], "additionalProperties": False}

PATHS = {
    "/openapi.json": {"get": _operation(
        "openapi", "meta", "This document.", result={"type": "object"}, errors=(), public=True)},
    "/me": {"get": _operation("me", "directory", "The user the token belongs to.", result=_ref("Me"))},
    "/departments": {"get": _list("list_departments", "directory", "Departments of the organisation.", "Department")},
    "/candidates": {
        "get": _list("list_candidates", "candidates", "Candidates the caller may see.", "Candidate"),
        "post": _create("create_candidate", "candidates", "Add a candidate.", "Candidate", candidates.FIELDS),
    },
    "/candidates/{candidate_id}": {
        "get": _get("get_candidate", "candidates", "One candidate (the read is audited).", "Candidate", CANDIDATE_ID),
        "patch": _update("update_candidate", "candidates", "Change a candidate.", "Candidate", CANDIDATE_ID, candidates.FIELDS),
        "delete": _operation("delete_candidate", "candidates", "Delete a candidate and everything recorded about them.",
                             ok=204, result_text="Deleted.", params=[CANDIDATE_ID], errors=(401, 403, 404)),
    },
    "/candidates/{candidate_id}/recordings": {
        "get": _list("list_candidate_recordings", "recordings", "Recordings of a candidate.", "Recording", [CANDIDATE_ID]),
    },
    "/openings": {
        "get": _list("list_openings", "openings", "Openings the caller may see.", "Opening"),
        "post": _create("create_opening", "openings", "Open a job requisition.", "Opening", openings.FIELDS),
    },
    "/openings/{opening_id}": {
        "get": _get("get_opening", "openings", "One opening.", "Opening", OPENING_ID),
        "patch": _update("update_opening", "openings", "Change or close an opening.", "Opening", OPENING_ID, openings.FIELDS),
    },
    "/interviews": {
        "get": _list("list_interviews", "interviews", "Interviews the caller may see.", "Interview"),
        "post": _create("create_interview", "interviews", "Schedule an interview.", "Interview", interviews.FIELDS),
    },
    "/interviews/{interview_id}": {
        "get": _get("get_interview", "interviews", "One interview.", "Interview", INTERVIEW_ID),
        "patch": _update("update_interview", "interviews", "Change an interview.", "Interview", INTERVIEW_ID, interviews.FIELDS),
    },
    "/recordings/{recording_id}": {
        "get": _get("get_recording", "recordings", "One recording.", "Recording", RECORDING_ID),
    },
    "/search": {"get": _operation(
        "search_pool", "talent pool",
        "Search the talent pool: tags with AND / OR / NOT and parentheses, score thresholds (`negotiation>=0.6`), "
        "`dept:`, `opening:`, `after:` / `before:` dates and quoted phrases over transcripts (docs/talent-pool.md). "
        "Each hit names the replay moments that make it one. At most 1000 candidates are counted and paged.",
        result=_ref("SearchResult"), params=SEARCH_PARAMS, errors=(400, 401, 403))},
    "/searches": {
        "get": _operation("list_saved_searches", "talent pool", "The caller's saved searches.",
                          result={"type": "object", "properties": {"items": {"type": "array", "items": _ref("SavedSearch")}},
                                  "required": ["items"], "additionalProperties": False}, errors=(401, 403)),
        "post": _operation("save_search", "talent pool", "Save a search (the query must parse).", ok=201,
                           result=_ref("SavedSearch"), body=body_schema(search.SAVED_FIELDS, creating=True),
                           errors=(400, 401, 403, 413)),
    },
    "/searches/{search_id}": {
        "delete": _operation("delete_saved_search", "talent pool", "Delete one of the caller's saved searches.", ok=204,
                             result_text="Deleted.", params=[_id_param("search_id", "saved search")], errors=(401, 403, 404)),
    },
    "/recordings/{recording_id}/comments": {
        "get": _operation("list_comments", "reviews", "Every reviewer's comments and ratings on a recording (the read is audited).",
                          result=_page("ReviewComment"), params=[RECORDING_ID, *PAGE_PARAMS], errors=(400, 401, 403, 404)),
        "post": _operation("add_comment", "reviews", "Comment on a recording, optionally with a 1-5 rating, about a question "
                           "of its latest report or a moment of it.", ok=201, result=_ref("ReviewComment"), result_text="Created.",
                           params=[RECORDING_ID], body=body_schema(reviews.COMMENT_FIELDS, creating=True),
                           errors=(400, 401, 403, 404, 413)),
    },
    "/recordings/{recording_id}/cue-feedback": {
        "post": _operation("mark_cue", "reviews", "Mark one AI cue of the recording's report right or wrong; calibration "
                           "tunes the organisation's thresholds from these verdicts.", result=_ref("CueFeedback"),
                           params=[RECORDING_ID], body=body_schema(reviews.FEEDBACK_FIELDS, creating=True),
                           errors=(400, 401, 403, 404, 413)),
    },
}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "What is wrong, in the caller's language; starts with the field name for 400."},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "field": {"type": "string", "description": "The body member or query parameter at fault (400 only)."},
    },
    "required": ["error", "status"],
    "additionalProperties": False,
}


def _error_response(status: int) -> dict:
    name, description = ERROR_RESPONSES[status]
    response = _json(_ref("Error"), description)
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {
            "description": 'The Bearer challenge (RFC 6750), e.g. `Bearer realm="talentreel", error="invalid_token"`.',
            "required": True, "schema": {"type": "string"}}}
    return response


@cache
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "TalentReel API",
            "version": __version__,
            "description": (
                "Candidates, openings, interviews and recordings of a TalentReel instance. Authenticate with an "
                "API token: `Authorization: Bearer trk_...`. Objects the token's user may not see answer 404, "
                "actions they may not take on objects they see answer 403. Datetimes are UTC, RFC 3339."
            ),
        },
        "servers": [{"url": api_bp.url_prefix}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API token (trk_...) issued to a TalentReel user."}},
            "schemas": {
                "Error": ERROR_SCHEMA,
                "Me": serializers.ME_SCHEMA,
                "Department": serializers.DEPARTMENT_SCHEMA,
                "Candidate": serializers.CANDIDATE_SCHEMA,
                "Opening": serializers.OPENING_SCHEMA,
                "Interview": serializers.INTERVIEW_SCHEMA,
                "Recording": serializers.RECORDING_SCHEMA,
                "ReviewComment": serializers.REVIEW_COMMENT_SCHEMA,
                "CueFeedback": serializers.CUE_FEEDBACK_SCHEMA,
                "SearchResult": SEARCH_RESULT_SCHEMA,
                "SavedSearch": SAVED_SEARCH_SCHEMA,
            },
            "responses": {name: _error_response(status) for status, (name, _d) in ERROR_RESPONSES.items()},
        },
    }


@api_bp.get("/openapi.json")
def openapi():
    return jsonify(document())
