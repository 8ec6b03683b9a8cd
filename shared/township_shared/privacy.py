"""Residents' personal data as shown outside the coordination office."""
import re


def normalise_phone(phone: str) -> str:
    """Digits only, without the +86 country prefix, so '+86 138-0000-1234' matches '13800001234'."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def mask_phone(phone: str) -> str:
    """Keep the first three and last four digits: ``13812345678`` -> ``138****5678``."""
    digits = normalise_phone(phone)
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
