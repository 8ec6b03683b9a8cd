"""Residents' personal data as shown outside the coordination office, and kept out of records that are not the
office's (dead letters: decision 58)."""
from __future__ import annotations

from typing import Any, Iterable

from . import phones


def mask_phone(phone: str) -> str:
    """Keep the first three and last four digits of the national number: ``+8613812345678`` -> ``138****5678``
    (see :func:`township_shared.phones.mask`)."""
    return phones.mask(phone)


# Fields of events and documents that hold personal data or free text a person wrote (which may name or describe
# someone): a reporter, names and phones, where a resident lives, what they wrote, what staff wrote about it.
PERSONAL_FIELDS = frozenset({
    "reporter", "name", "names", "phone", "mobile", "contact", "person", "location", "address", "description",
    "title", "comment", "note", "reply", "reason", "why", "text", "attachments", "reply_attachments",
    "evidence_urls"})
MIN_SECRET_BYTES = 4  # shorter values (in UTF-8: a two-character Chinese name is 6) are too common to cut out


def _marker(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return f"<removed: {len(value)} characters>"
    return f"<removed: {type(value).__name__}>"


def scrub(value: Any, personal: bool = False, found: list[str] | None = None) -> Any:
    """``value`` with every leaf under a :data:`PERSONAL_FIELDS` key (at any depth) replaced by a marker that
    keeps only its type and length, so a record still shows a message's shape and which fields it had. The removed
    texts (and numbers, as text) are appended to ``found``, for :func:`cut_out`."""
    if isinstance(value, dict):
        return {k: scrub(v, personal or (isinstance(k, str) and k.lower() in PERSONAL_FIELDS), found)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, personal, found) for v in value]
    if not personal or value is None:
        return value
    if found is not None and not isinstance(value, bool):
        found.append(str(value))
    return _marker(value)


def cut_out(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (at least :data:`MIN_SECRET_BYTES` long in UTF-8) replaced by
    ``<removed>``: an exception's message or traceback may quote the value it choked on."""
    wanted = {s for s in secrets if len(s.encode("utf-8", "surrogatepass")) >= MIN_SECRET_BYTES}
    for secret in sorted(wanted, key=len, reverse=True):
        text = text.replace(secret, "<removed>")
    return text
