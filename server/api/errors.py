"""The API's error responses: always JSON `{"error", "status"}`, plus `field` for invalid input.

The application's own handlers answer JSON for /api/ paths too, but they drop the field of a
ValidationError; registering these on the blueprint gives API views the full shape.
"""

from __future__ import annotations

from flask import jsonify

from ..errors import NotFound, PermissionDenied, ValidationError
from ..i18n import _
from . import api_bp


def error_response(status: int, message: str, **extra):
    response = jsonify({"error": message, "status": status, **extra})
    response.status_code = status
    return response


@api_bp.errorhandler(ValidationError)
def invalid_input(exc: ValidationError):
    extra = {"field": exc.field} if exc.field else {}
    return error_response(400, str(exc), **extra)


@api_bp.errorhandler(NotFound)
def not_found(exc):
    return error_response(404, _("Not found."))


@api_bp.errorhandler(PermissionDenied)
def forbidden(exc):
    return error_response(403, _("You do not have access to this."))
