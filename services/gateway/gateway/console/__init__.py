"""The web console (issue 16): server-rendered pages at ``/console`` for every role, served by the gateway.

:class:`ConsoleRoutes` is the gateway's mixin of the console's three entrypoints (``/``, ``/static/...`` and
``/console/...``); the pages themselves are plain functions in :mod:`gateway.console.pages`, registered with
:func:`gateway.console.web.page` (decision 91)."""
from __future__ import annotations

from werkzeug.wrappers import Response

from township_shared.mongo import MongoRepository

from ..http import http
from ..openapi import undocumented
from . import pages  # noqa: F401  (registers every page)
from . import web
from .photos import PhotoRepository


class ConsoleRoutes:
    """Mixed into the gateway service: it provides ``config`` and the RPC proxies the pages call."""

    photos = MongoRepository(PhotoRepository)  # the gateway's database: photos in GridFS (decision 92)

    @undocumented("the web console's HTML, not the JSON API (README: console pages)")
    @http("GET", "/")
    def console_root(self, request):
        return Response(status=302, headers={"Location": web.PREFIX + "/"})

    @undocumented("the web console's stylesheet and script")
    @http("GET", "/static/<path:name>")
    def console_static(self, request, name):
        return web.static_file(name)

    @undocumented("the web console's HTML, not the JSON API (README: console pages)")
    @http("GET,POST", "/console/")
    def console_index(self, request):
        return web.handle(self, request)

    @undocumented("the web console's HTML, not the JSON API (README: console pages)")
    @http("GET,POST", "/console/<path:rest>")
    def console_page(self, request, rest):
        return web.handle(self, request)
