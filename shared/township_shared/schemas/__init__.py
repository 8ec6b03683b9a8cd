"""Versioned marshmallow schemas for HTTP bodies, RPC arguments and event payloads, shared by all services."""


def load_all() -> None:
    """Import every schema module, so every event payload schema is registered (consumers of any event)."""
    from . import demands, dispatch, feedback  # noqa: F401
