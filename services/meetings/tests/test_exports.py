"""The frozen minutes rendered as Markdown, HTML and PDF from the same lines; the PDF draws its Chinese with a CJK
font from Debian and reads back (pdftotext, else pypdf)."""
import io
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from meetings import domain, exports

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


def closed_meeting():
    m, _ = domain.new_meeting("m-1", "qingshui", {
        "kind": "joint_meeting", "title": "清水镇第十二次党政联席会议", "starts_at": NOW, "place": "镇政府三楼会议室",
        "convener": "林书记", "attendees": [{"actor": "unit:water_station", "name": "陈建国", "role": "站长"},
                                          {"actor": "party_member:pm001"}]}, NOW, "meeting:secretary")
    cands = {"c-a": domain.candidate("c-a", "qingshui", "office", {"kind": "other", "id": "x"}, "冬季取暖<检查>",
                                     "安排 & 摸排", NOW, {"event_id": "c-a"}),
             "c-b": domain.candidate("c-b", "qingshui", "project_referred", {"kind": "project", "id": "p1"},
                                     "老年食堂", "申请资金", NOW, {"event_id": "c-b"})}
    domain.compose(m, [{"candidate_id": "c-a", "minutes": 10}, {"candidate_id": "c-b", "minutes": 20}], cands, NOW,
                   "s")
    domain.publish(m, [], NOW, "s")
    domain.record(m, "c-a", {"decision": {"decision": "defer", "reason": "待摸排后再议"}, "notes": "意见不一"}, NOW,
                  "s")
    domain.record(m, "c-b", {"decision": {"decision": "approve", "reason": "同意建设老年食堂", "funding": {
        "approved_fen": 8000000, "pools": [{"pool": "fiscal-2026", "amount_fen": 8000000}]}},
        "votes": {"yes": 7, "no": 1, "abstain": 0}}, NOW, "s")
    carried = [{"id": "m-0.c-z", "meeting_title": "第十一次", "title": "桥面破损", "decision": "assign",
                "state": "refused", "overdue": False, "outcomes": []}]
    domain.close(m, ["unit:water_station"], carried, NOW + timedelta(hours=2), "meeting:secretary")
    domain.amend(m, "更正：补记出席人员", "office:wang", NOW + timedelta(days=1))
    return m


def test_markdown_and_html_carry_everything_and_escape_it():
    m = closed_meeting()
    md, page = exports.markdown(m), exports.html(m)
    for text in ("清水镇第十二次党政联席会议 会议纪要", "待摸排后再议", "¥80,000.00 from fiscal-2026", "桥面破损", "refused",
                 "更正：补记出席人员", "陈建国 站长 (unit:water_station)", "party_member:pm001"):
        assert text in md and text in page.replace("&amp;", "&")
    assert "冬季取暖&lt;检查&gt;" in page and "<检查>" not in page and "安排 &amp; 摸排" in page
    assert md.startswith("# 清水镇第十二次党政联席会议")


def test_the_pdf_reads_back_with_its_chinese_title_and_each_decision():
    try:
        font = exports.find_font()
    except exports.FontMissing:
        pytest.fail("no CJK font: make install installs fonts-wqy-microhei (deploy/system-packages.sh)")
    data = exports.pdf(closed_meeting(), font)
    assert data.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,
                              check=True).stdout.decode()
    else:
        from pypdf import PdfReader

        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    flat = text.replace("\n", "")
    assert "清水镇第十二次党政联席会议" in flat
    assert "待摸排后再议" in flat and "同意建设老年食堂" in flat
