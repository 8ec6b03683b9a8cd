"""Residents' phone numbers in one form, so one reporter is one number (decision 28).

Residents and clerks write the same number many ways: ``13812345678``, ``+86 138 1234 5678``, ``0086
13812345678``, ``138-1234-5678``; a landline as ``0579-8212 3456`` or, dialled locally, ``8212 3456``.
:func:`normalise` turns each into E.164 (``+8613812345678``, ``+8657982123456``) with Google's libphonenumber
rules (the ``phonenumbers`` package; numbers without a country prefix are read as Chinese), completing a local
landline with the township's area code. :func:`key` compares numbers stored before normalisation too, and
:func:`mask` shows the first three and last four digits of the national number, as dialled in China.
"""
from __future__ import annotations

import re

import phonenumbers
from phonenumbers import CountryCodeSource, NumberParseException, PhoneNumberFormat, PhoneNumberType

REGION = "CN"
MAX_LENGTH = 32
# What people type: digits, an optional leading +, and separators. phonenumbers alone would also accept letters
# (vanity numbers, 1-800-FLOWERS) and extensions, which a resident's number never has.
WRITTEN = re.compile(r"^\+?[0-9(][0-9 ()./-]*[0-9]$")
AREA_CODE = re.compile(r"^0[1-9][0-9]{1,2}$")
LOCAL_NUMBER = re.compile(r"^[2-9][0-9]{6,7}$")  # a fixed-line subscriber number without its area code
LANDLINE_TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


class InvalidPhone(ValueError):
    """Not a phone number anyone can call back; the message says why, for the resident or clerk."""


def _parse(text: str) -> phonenumbers.PhoneNumber:
    if not isinstance(text, str) or len(text) > MAX_LENGTH or not WRITTEN.match(text.strip()):
        raise InvalidPhone("must be a phone number: digits with spaces or dashes, optionally +86 or 0086 first")
    try:
        return phonenumbers.parse(text.strip(), REGION, keep_raw_input=True)
    except NumberParseException:
        raise InvalidPhone("not a phone number") from None


def _local_digits(number: phonenumbers.PhoneNumber) -> str | None:
    """The subscriber digits when ``number`` was written as a Chinese landline without its area code."""
    if number.country_code_source != CountryCodeSource.FROM_DEFAULT_COUNTRY or number.italian_leading_zero:
        return None
    digits = str(number.national_number)
    return digits if LOCAL_NUMBER.match(digits) else None


def plausible(text: str) -> bool:
    """A valid number, or one that may become valid with a township's area code (a local landline).

    What a schema can check without knowing the township; :func:`normalise` has the final word."""
    try:
        number = _parse(text)
    except InvalidPhone:
        return False
    return phonenumbers.is_valid_number(number) or _local_digits(number) is not None


def normalise(text: str, area_code: str | None = None) -> str:
    """E.164 form of ``text``; a landline written without its area code gets ``area_code`` (``"0579"``).

    Raises :class:`InvalidPhone` for anything that is not a valid number, including a local landline when
    ``area_code`` is None or the completed number is not valid in that area."""
    number = _parse(text)
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    local = _local_digits(number)
    if local is None:
        raise InvalidPhone("not a valid phone number (a mobile has 11 digits, a landline its area code)")
    if not area_code:
        raise InvalidPhone("a landline needs its area code here, e.g. 0579-8212 3456")
    if not AREA_CODE.match(area_code):
        raise ValueError(f"area code must look like 0579, got {area_code!r}")
    full = phonenumbers.parse(area_code + local, REGION)
    if not phonenumbers.is_valid_number(full) or phonenumbers.number_type(full) not in LANDLINE_TYPES:
        raise InvalidPhone(f"not a valid landline in area {area_code}; write it with its area code")
    return phonenumbers.format_number(full, PhoneNumberFormat.E164)


def key(text: str) -> str:
    """What two numbers are compared by: E.164 when valid, else the digits (a number stored before numbers
    were normalised, or a local landline whose township had no area code)."""
    try:
        number = _parse(text)
    except InvalidPhone:
        return re.sub(r"\D", "", text or "")
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return str(number.national_number)


def mask(text: str) -> str:
    """First three and last four digits of the national number as dialled in China, the rest ``*``:
    ``+8613812345678`` -> ``138****5678``, ``+8657982123456`` -> ``057*****3456``. Never raises."""
    try:
        number = _parse(text)
        if number.country_code == 86 and phonenumbers.is_valid_number(number):
            digits = re.sub(r"\D", "", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
        elif phonenumbers.is_valid_number(number):
            digits = phonenumbers.national_significant_number(number)
        else:  # e.g. 17900..., read as China's IP-call prefix 17900: mask what was written
            digits = re.sub(r"\D", "", text)
    except InvalidPhone:
        digits = re.sub(r"\D", "", text or "")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
