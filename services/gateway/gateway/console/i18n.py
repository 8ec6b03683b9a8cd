"""The console's languages: Chinese (default) and English, every string through gettext (decision 91).

Messages are written in English in the templates and the page modules (``_("Triage")``); each area of the console
keeps its Chinese catalogue in ``translations/zh/<area>.po`` (one file per area, so areas grow without touching
each other's catalogue), merged here at first use. English needs no catalogue: the message is its own text.
``python -m gateway.console.i18n missing`` prints, as .po entries, the messages that have no Chinese yet;
tests/contract/test_console_i18n.py fails while any is missing.

Dates, times, numbers and money are formatted with Babel for the reader's locale, in the township's time zone."""
from __future__ import annotations

import functools
import io
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

HERE = Path(__file__).parent
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
LOCALES = {"zh": "zh_Hans_CN", "en": "en_GB"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}
EXTRACT_METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def catalogue_files(lang: str) -> list[Path]:
    return sorted((HERE / "translations" / lang).glob("*.po"))


@functools.cache
def translations(lang: str) -> NullTranslations:
    """The merged catalogue of ``lang`` (every area's .po); English is the messages themselves."""
    merged = Catalog(locale=LOCALES.get(lang, lang))
    for path in catalogue_files(lang):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=LOCALES.get(lang, lang)):
                if message.id and message.string and not message.fuzzy:
                    merged[message.id] = message
    if not len(merged):
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return Translations(buffer)


def negotiate(chosen: str | None, accept_language: Any = None) -> str:
    """The reader's language: the one chosen with the switch (cookie), else the browser's first preference among
    ours, else Chinese."""
    if chosen in LANGUAGES:
        return chosen
    for value, _quality in accept_language or ():  # werkzeug keeps them best first
        primary = value.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined (a nav label, a table heading); it is translated
    where it is shown."""
    return message


class Formats:
    """Babel's formatting for one reader: ``lang`` and the township's time zone."""

    def __init__(self, lang: str, zone: str = "Asia/Shanghai"):
        self.lang = lang
        self.locale = Locale.parse(LOCALES[lang])
        self.zone = ZoneInfo(zone)

    def _moment(self, value: Any) -> datetime | None:
        if value in (None, ""):
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            return value.astimezone(self.zone)
        return None

    def datetime(self, value: Any, format: str = "medium") -> str:
        moment = self._moment(value)
        return format_datetime(moment, format=format, locale=self.locale) if moment else ""

    def short_datetime(self, value: Any) -> str:
        return self.datetime(value, "short")

    def date(self, value: Any, format: str = "medium") -> str:
        if isinstance(value, str) and len(value) == 10:
            try:
                value = date.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, date) and not isinstance(value, datetime):
            return format_date(value, format=format, locale=self.locale)
        moment = self._moment(value)
        return format_date(moment, format=format, locale=self.locale) if moment else ""

    def number(self, value: Any) -> str:
        return "" if value is None else format_decimal(value, locale=self.locale)

    def percent(self, value: Any) -> str:
        """A rate in [0, 1] as a percentage with one decimal."""
        return "" if value is None else format_percent(value, "#,##0.0%", locale=self.locale)

    def money(self, fen: Any) -> str:
        """Integer fen as yuan with the currency sign (¥1,234.50)."""
        if fen is None:
            return ""
        return format_currency(int(fen) / 100, "CNY", locale=self.locale)


def extracted() -> dict[str, list[tuple[str, int]]]:
    """Every message of the console's templates and modules: msgid -> where it is used."""
    found: dict[str, list[tuple[str, int]]] = {}
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(HERE), EXTRACT_METHODS, keywords=KEYWORDS, options_map=options):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.setdefault(msgid, []).append((filename, lineno))
    return found


def missing(lang: str = "zh") -> dict[str, list[tuple[str, int]]]:
    """The extracted messages that ``lang``'s catalogues do not translate."""
    known = translations.__wrapped__(lang)
    catalog = getattr(known, "_catalog", {})
    return {msgid: where for msgid, where in extracted().items() if msgid not in catalog}


def main(argv: Iterable[str]) -> int:
    args = list(argv)
    if args[:1] != ["missing"]:
        print("usage: python -m gateway.console.i18n missing [zh]", file=sys.stderr)
        return 2
    lang = args[1] if len(args) > 1 else "zh"
    todo = missing(lang)
    catalog = Catalog(locale=LOCALES[lang])
    for msgid, where in sorted(todo.items()):
        catalog.add(msgid, "", locations=where)
    out = io.BytesIO()
    write_po(out, catalog, omit_header=True, width=120)
    sys.stdout.write(out.getvalue().decode("utf-8"))
    return 1 if todo else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
