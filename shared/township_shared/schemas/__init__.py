"""Versioned marshmallow schemas for HTTP bodies, RPC arguments and event payloads, shared by all services.

One module per service (``<service>.py``) plus ``common`` and ``reference``; a new module is picked up by
:func:`load_all` without being listed."""


def load_all() -> None:
    """Import every schema module, so every event payload schema is registered (consumers of any event)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
