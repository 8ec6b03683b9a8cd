"""The frozen minutes of a closed meeting, with its dated addenda, as Markdown, HTML and PDF (decision 77).

All three are rendered from the same lines (:func:`lines`), so they never disagree. The PDF embeds a subset of a
CJK font from Debian (``fonts-wqy-microhei`` by default; ``MEETINGS_PDF_FONT`` names another TrueType file or
collection): Chinese text is drawn, not replaced, and its text can be read back (pdftotext)."""
from __future__ import annotations

import html as html_lib
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping
from zoneinfo import ZoneInfo

from .domain import decision_detail, fen_text

DEFAULT_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                 "/usr/share/fonts/truetype/arphic/uming.ttc")
KIND_NAMES = {"joint_meeting": "党政联席会议 joint Party-government meeting",
              "village_consultation": "村级协商会 village-level consultation", "hearing": "听证会 hearing"}
DECISION_NAMES = {"assign": "交办 assign", "approve": "批准资金 approve funding", "reject": "不予批准 reject",
                  "close": "结案 close", "defer": "暂缓 defer", "open_topic": "设立协商议题 open a consultation topic"}


class FontMissing(RuntimeError):
    """No CJK font: install Debian's fonts-wqy-microhei (``make install`` does) or set MEETINGS_PDF_FONT."""


def find_font(configured: str | None = None) -> str:
    for candidate in ([configured] if configured else []) + list(DEFAULT_FONTS):
        if candidate and Path(candidate).is_file():
            return candidate
    raise FontMissing("no CJK font found: apt-get install fonts-wqy-microhei, or set MEETINGS_PDF_FONT")


def _when(at: datetime | None, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if at else "-"


def _who(attendee: Mapping[str, Any]) -> str:
    parts = [attendee.get("name"), attendee.get("role")]
    shown = " ".join(p for p in parts if p)
    return f"{shown} ({attendee['actor']})" if shown else attendee["actor"]


def decision_text(decision: Mapping[str, Any], tz: str) -> str:
    """A decision in one sentence: its kind, its part (lead and deadline, amount and pools, ...) and reason."""
    kind = decision["decision"]
    part = decision_detail(decision) or {}
    said = DECISION_NAMES.get(kind, kind)
    if kind == "assign":
        co = ", ".join(u["id"] for u in part.get("co_units", []))
        said += f": lead {part['lead']['id']}" + (f", co-units {co}" if co else "") + \
            f", deadline {_when(part['deadline'], tz)}"
    elif kind == "approve":
        pools = ", ".join(f"{p['pool']} {fen_text(p['amount_fen'])}" for p in part.get("pools", []))
        said += f": {fen_text(part['approved_fen'])}" + (f" from {pools}" if pools else "")
    elif kind == "close":
        said += f": {part['outcome']}"
    elif kind == "defer" and part.get("until"):
        said += f" until {_when(part['until'], tz)}"
    elif kind == "open_topic":
        said += f": {part['title']} ({part['village']})"
    return f"{said}. {decision['reason']}"


def lines(meeting: Mapping[str, Any], tz: str = "Asia/Shanghai") -> Iterator[tuple[str, str]]:
    """``(kind, text)`` of the minutes in reading order: ``title``, ``heading``, ``text`` or ``item``."""
    m = meeting["minutes"]
    yield "title", f"{m['title']} 会议纪要"
    yield "text", f"{KIND_NAMES.get(m['kind'], m['kind'])} · {_when(m['starts_at'], tz)} · {m['place']}"
    yield "text", f"召集人 Convener: {m['convener']}"
    yield "heading", "出席 Present"
    for a in m["present"] or [{"actor": "-"}]:
        yield "item", _who(a)
    yield "heading", "缺席 Absent"
    for a in m["absent"] or [{"actor": "-"}]:
        yield "item", _who(a)
    if m["carried_over"]:
        yield "heading", "前次会议未办结事项 Earlier decisions not yet done"
        for d in m["carried_over"]:
            overdue = " · 逾期 overdue" if d.get("overdue") else ""
            yield "item", f"{d['title']}: {DECISION_NAMES.get(d['decision'], d['decision'])} — {d['state']}{overdue}"
    yield "heading", "议题 Items"
    for n, item in enumerate(m["items"], 1):
        yield "heading", f"{n}. {item['title']}"
        yield "text", f"来源 Source: {item['source']} · {item['subject']['kind']} {item['subject']['id']}"
        yield "text", item["summary"]
        if item.get("presenter"):
            yield "text", f"汇报人 Presenter: {item['presenter']} ({item['minutes']} min)"
        if item.get("notes"):
            yield "text", f"讨论 Discussion: {item['notes']}"
        if item.get("votes"):
            v = item["votes"]
            yield "text", f"表决 Votes: {v['yes']} 赞成 yes, {v['no']} 反对 no, {v.get('abstain', 0)} 弃权 abstain"
        yield "text", f"决定 Decision: {decision_text(item['decision'], tz)}"
        for follow in item.get("follow_ups") or []:
            yield "item", f"跟进 Follow-up: {follow}"
    yield "text", f"纪要定稿 Minutes frozen {_when(m['closed_at'], tz)} by {m['closed_by']}"
    if meeting.get("addenda"):
        yield "heading", "补正 Addenda"
        for a in meeting["addenda"]:
            yield "item", f"{_when(a['at'], tz)} {a['by']}: {a['text']}"


def markdown(meeting: Mapping[str, Any], tz: str = "Asia/Shanghai") -> str:
    out = []
    for kind, text in lines(meeting, tz):
        text = text.replace("\n", " ")
        out.append({"title": f"# {text}\n", "heading": f"\n## {text}\n", "item": f"- {text}"}.get(kind, f"{text}\n"))
    return "\n".join(out) + "\n"


def html(meeting: Mapping[str, Any], tz: str = "Asia/Shanghai") -> str:
    """A standalone page (no scripts, no external resources); every text is escaped."""
    body, in_list = [], False
    for kind, text in lines(meeting, tz):
        text = html_lib.escape(text)
        if kind != "item" and in_list:
            body.append("</ul>")
            in_list = False
        if kind == "item":
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{text}</li>")
        else:
            body.append({"title": f"<h1>{text}</h1>", "heading": f"<h2>{text}</h2>"}.get(kind, f"<p>{text}</p>"))
    if in_list:
        body.append("</ul>")
    title = html_lib.escape(meeting["minutes"]["title"])
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>" + title +
            "</title></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def pdf(meeting: Mapping[str, Any], font_path: str, tz: str = "Asia/Shanghai") -> bytes:
    from fpdf import FPDF
    from fpdf.enums import WrapMode, XPos, YPos

    doc = FPDF(format="A4")
    doc.set_title(meeting["minutes"]["title"])
    doc.set_creator("township meetings")
    doc.add_font("cjk", fname=font_path)
    doc.set_auto_page_break(True, margin=15)
    doc.add_page()
    sizes = {"title": 18, "heading": 13, "text": 11, "item": 11}
    for kind, text in lines(meeting, tz):
        doc.set_font("cjk", size=sizes[kind])
        if kind == "heading":
            doc.ln(2)
        doc.multi_cell(0, sizes[kind] * 0.6, ("• " if kind == "item" else "") + text, wrapmode=WrapMode.CHAR,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(doc.output())
