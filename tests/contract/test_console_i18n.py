"""Contract: every message of the console has its Chinese (decision 91); the catalogues are valid .po files."""
from gateway.console import i18n


def test_every_console_message_has_its_chinese_translation():
    missing = i18n.missing("zh")
    assert not missing, ("messages without Chinese (python -m gateway.console.i18n missing prints them as .po "
                         f"entries): {sorted(missing)[:20]}")


def test_chinese_differs_from_english_for_a_known_message():
    assert i18n.translations("zh").gettext("Sign in") == "登录"
    assert i18n.translations("en").gettext("Sign in") == "Sign in"


def test_the_readers_language_is_negotiated_chinese_first():
    from werkzeug.datastructures import LanguageAccept

    assert i18n.negotiate(None, None) == "zh"
    assert i18n.negotiate("en", LanguageAccept([("zh-CN", 1)])) == "en"
    assert i18n.negotiate(None, LanguageAccept([("en-US", 1), ("zh", 0.5)])) == "en"
    assert i18n.negotiate("xx", LanguageAccept([("fr", 1)])) == "zh"


def test_money_dates_and_numbers_follow_the_locale():
    zh, en = i18n.Formats("zh"), i18n.Formats("en")
    assert zh.money(123456) == "¥1,234.56"
    assert en.money(123456) == "CN¥1,234.56"
    assert en.date("2026-12-01") == "1 Dec 2026"
    assert zh.date("2026-12-01") == "2026年12月1日"
    assert zh.datetime("2026-12-01T02:30:00Z").startswith("2026年12月1日 10:30")  # Asia/Shanghai
