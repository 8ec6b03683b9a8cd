"""Serving a photo: to a reader who may see its subject, never cached by a shared cache (decision 92)."""
from __future__ import annotations

from werkzeug.wrappers import Response

from township_shared.auth import SIGNED_IN

from ..photos import SUBJECT_READERS
from ..web import CallFailed, Ctx, error_page, page


@page("/photos/<photo_id>", roles=SIGNED_IN)
def photo(ctx: Ctx):
    found = ctx.service.photos.find(ctx.principal.township_id, ctx.values["photo_id"])
    kind, _, ident = (found or {}).get("subject", "").partition(":")
    if found is None or kind not in SUBJECT_READERS:
        return error_page(ctx, 404)
    try:
        SUBJECT_READERS[kind](ctx, ident)
    except CallFailed as exc:
        if exc.status in (401, 403, 404):
            return error_page(ctx, 404)
        raise
    data = ctx.service.photos.content(found["id"])
    if data is None:
        return error_page(ctx, 404)
    return Response(data, mimetype=found["content_type"],
                    headers={"Cache-Control": "private, max-age=300", "Content-Disposition": "inline"})
