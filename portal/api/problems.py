"""RFC 9457 problem details for everything under /api/v1: raised problems,
HTTP errors inside API views (404, 405, 413, 429, 500), and routing errors
for URLs that match no API route (which belong to no blueprint, so the
blueprint's handlers would never see them)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.routing import RequestRedirect

PREFIX = "/api/v1"
MEDIA_TYPE = "application/problem+json"
# Problem types are URNs: stable names, not pages to fetch.
TYPE_BASE = "urn:portal:problem:"


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": TYPE_BASE + type_ if type_ else "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    response.headers.update(headers or {})
    return response


class ApiProblem(Exception):
    """Raise anywhere in an API request to answer with a problem."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.type_, self.headers, self.extra = type_, headers, extra

    def response(self) -> Response:
        return problem_response(
            self.status, self.title, self.detail, type_=self.type_, headers=self.headers, **self.extra
        )


def invalid(errors: list[dict[str, str]], status: int = 422) -> ApiProblem:
    """Input that breaks the schema: every error names its field, as a JSON
    pointer into the body or as a query parameter."""
    first = errors[0]
    where = first.get("pointer") or first.get("parameter")
    title = "The request body is not valid." if status == 422 else "The request is not valid."
    return ApiProblem(status, title, f"{where}: {first['detail']}", type_="validation", errors=errors)


def from_http(exc: HTTPException) -> Response:
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    code = exc.code or 500
    # A server error says nothing of its cause.
    detail = None if code >= 500 else exc.description
    return problem_response(code, exc.name, detail, headers=headers)


def _is_api() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def register(bp: Blueprint) -> None:
    bp.register_error_handler(ApiProblem, lambda exc: exc.response())
    # By code: app-wide handlers for a code would otherwise win over a
    # blueprint's generic HTTPException handler.
    for code in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429):
        bp.register_error_handler(code, from_http)
    bp.register_error_handler(HTTPException, from_http)
    bp.register_error_handler(InternalServerError, from_http)

    @bp.before_app_request
    def _routing_errors() -> Response | None:
        exc = request.routing_exception
        if exc is not None and _is_api() and not isinstance(exc, RequestRedirect):
            return from_http(exc)
        return None
