"""Residents' personal data as shown outside the coordination office."""
from . import phones


def mask_phone(phone: str) -> str:
    """Keep the first three and last four digits of the national number: ``+8613812345678`` -> ``138****5678``
    (see :func:`township_shared.phones.mask`)."""
    return phones.mask(phone)
