"""Dispatch's registry of actors, as identity asks it whether an actor exists and is active before it issues the
actor a token (dispatch owns the registry: identity keeps no copy that could go stale)."""
from __future__ import annotations

from typing import Any

from nameko.exceptions import RemoteError

from township_shared import auth


class DispatchActors:
    """``get(principal, kind, actor_id)``: the actor as dispatch shows it to ``principal`` (an office, signed with
    the service's ``PRINCIPAL_KEY``), or None if dispatch has no such actor in that township."""

    def __init__(self, dispatch, key: str):
        self.dispatch = dispatch
        self.key = key

    def get(self, principal: auth.Principal, kind: str, actor_id: str) -> dict[str, Any] | None:
        try:
            return self.dispatch.get_actor(auth.sign(principal, self.key), kind, actor_id)
        except RemoteError as exc:
            if exc.exc_type == "NotFound":
                return None
            raise
