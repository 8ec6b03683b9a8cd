"""405 for a path the API answers, asked with a method it does not document (decision 70).

Without this the catch-all route answered such a request 404 (``PUT /api/v1/demands``: "no route"), and werkzeug
answered a method the catch-all does not take (``OPTIONS``, ``TRACE``) with an HTML 405 whose ``Allow`` listed the
catch-all's methods. :class:`MethodGuard` knows the documented operations (the same declarations
``/openapi.json`` is made of) and answers in the API's JSON, with ``Allow`` naming exactly the path's documented
methods (and ``HEAD`` beside ``GET``, which werkzeug answers for every ``GET`` route)."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.routing import Map, Rule

from township_shared.errors import MethodNotAllowed
from township_shared.schemas.bounds import echo

OPENAPI_VARIABLE = re.compile(r"\{(\w+)\}")


def documented_map(operations: Iterable[tuple[str, str]]) -> Map:
    """A werkzeug map of ``(method, OpenAPI path)`` pairs (``{case_id}`` matches one path segment)."""
    methods: dict[str, set[str]] = {}
    for method, path in operations:
        methods.setdefault(path, set()).add(method.upper())
    return Map([Rule(OPENAPI_VARIABLE.sub(r"<\1>", path), methods=sorted(verbs), endpoint=path)
                for path, verbs in methods.items()])


def allowed_methods(url_map: Map, path: str, method: str) -> list[str] | None:
    """The methods the documented ``path`` has when ``method`` is not one of them; None when the method is
    documented there or no documented path matches (the routes answer: 404 for an unknown path)."""
    try:
        url_map.bind("localhost").match(path, method=method)
    except WerkzeugMethodNotAllowed as exc:
        return sorted(exc.valid_methods or ())
    except HTTPException:
        return None
    return None


def served_operations(providers: Iterable[Any]) -> Iterable[tuple[str, str]]:
    """``(method, OpenAPI path)`` of every documented operation of the web server's ``@http`` entrypoints."""
    from .openapi import ROUTES_ATTR, openapi_path

    for provider in providers:
        route = getattr(provider.container.service_cls, provider.method_name)
        for op in getattr(route, ROUTES_ATTR, ()):
            for method in provider.method.split(","):
                yield method, openapi_path(provider.url, op.fixed)[0]


class MethodGuard:
    """WSGI middleware: a request whose path is documented but whose method is not gets the JSON 405 of
    :func:`gateway.http.error_response`, before any route or token is looked at (the methods of a path are in
    the public document anyway)."""

    def __init__(self, app: Callable, operations: Callable[[], Iterable[tuple[str, str]]]):
        self.app = app
        self._operations = operations
        self._map: Map | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable):
        if self._map is None:  # the routes are all registered once the first request arrives
            self._map = documented_map(self._operations())
        method = environ.get("REQUEST_METHOD", "GET")
        allowed = allowed_methods(self._map, environ.get("PATH_INFO") or "/", method)
        if allowed is None:
            return self.app(environ, start_response)
        from .http import error_response

        refused = MethodNotAllowed(f"{echo(method, 40)} is not a method of this path; it has "
                                   f"{', '.join(allowed)}", allowed=allowed)
        return error_response(refused.status, refused.body)(environ, start_response)
