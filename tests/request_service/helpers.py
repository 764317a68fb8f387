"""Test helpers for the request service: applications inserted directly (intake is tested on its own) and
handled through the staff API."""

import hashlib
import html
import io
import itertools
import re
import uuid
from datetime import UTC, date, datetime

from pypdf import PdfReader

from request_service.models import Application, KnownOrgan
from tests.support import auth, expect_status

API = "/api/v1/requests"
_n = itertools.count(1)


def organ_code() -> str:
    return f"11440100MD{next(_n):07d}X"[:18]


class Desk:
    """Tokens of one organ's request-handling staff."""

    def __init__(self, organ: str) -> None:
        self.organ = organ
        self.clerk = auth("intake_clerk", organ=organ, sub=f"clerk@{organ}", name="受理员")
        self.handler = auth("handler", organ=organ, sub=f"handler@{organ}", name="承办人")
        self.approver = auth("reply_approver", organ=organ, sub=f"approver@{organ}", name="签发人")


async def insert_application(db, organ: str, *, submitted: date, channel: str = "online",
                             applicant_type: str = "natural_person", key: str | None = None,
                             title: str = "申请公开2025年度部门预算", delivery: str = "online") -> str:
    app_id = str(uuid.uuid4())
    async with db.transaction() as session:
        if await session.get(KnownOrgan, organ) is None:
            session.add(KnownOrgan(code=organ, id=str(uuid.uuid4()), name="测试市财政局", path=f"/{organ}/"))
        session.add(Application(
            id=app_id, tracking_no=f"T{uuid.uuid4().hex[:12]}", query_code_hash="x", organ_code=organ,
            channel=channel, submitted_at=datetime(submitted.year, submitted.month, submitted.day, 2, tzinfo=UTC),
            applicant_type=applicant_type, applicant_name="张三",
            applicant_key=key or hashlib.sha256(app_id.encode()).hexdigest(), id_type="resident_id",
            id_number="11010519491231002X", phone="13812345678", info_title=title, status="received",
            delivery=delivery))
    return app_id


async def act(client, headers, app_id: str, action: str, body: dict | None = None, *, expect: int = 200,
              expect_code: str | None = None):
    etag = (await client.get(f"{API}/applications/{app_id}", headers=headers)).headers.get("etag", '"0"')
    r = await client.post(f"{API}/applications/{app_id}/{action}", headers={**headers, "If-Match": etag},
                          json=body or {})
    expect_status(r, expect, expect_code)
    return r


async def accepted(client, db, desk: Desk, receipt: str, **kwargs) -> str:
    app_id = await insert_application(db, desk.organ, submitted=date.fromisoformat(receipt), **kwargs)
    await act(client, desk.clerk, app_id, "confirm", {"on": receipt, "method": "电话确认"})
    return app_id


async def deadline(client, desk: Desk, app_id: str) -> dict:
    r = await client.get(f"{API}/applications/{app_id}/deadline", headers=desk.handler)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------------------------------------- letters as PDF

_BLOCK = re.compile(r"<(h1|h2|h3|p|li)\b[^>]*>(.*?)</\1>", re.S)


def _squeeze(text: str) -> str:
    """Text without any whitespace: a PDF wraps lines wherever the page ends, and CJK text has no spaces."""
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes) -> str:
    """The text a reader of the PDF sees (every page, in order), read back with pypdf, whitespace removed.
    The embedded font subset carries a ToUnicode map, so Chinese extracts as written."""
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(pdf))
    return _squeeze("".join(page.extract_text() or "" for page in reader.pages))


def letter_blocks(letter_html: str) -> list[str]:
    """The visible text of each block (h1/h2/h3/p/li: issuer, title, 申请编号, addressee, paragraphs, list items,
    signature, date) of a letter's HTML, in order, unescaped and without whitespace. Parsed here on its own, not
    with the renderer's parser, so a renderer that loses blocks cannot agree with itself."""
    body = letter_html.split("</head>")[-1]
    blocks = [_squeeze(html.unescape(re.sub(r"<[^>]+>", "", inner))) for _, inner in _BLOCK.findall(body)]
    return [block for block in blocks if block]


def assert_pdf_matches_html(pdf: bytes, letter_html: str) -> str:
    """Every block of the HTML letter is in the PDF, whole and in the same order; returns the PDF's text."""
    text = pdf_text(pdf)
    blocks = letter_blocks(letter_html)
    assert len(blocks) >= 6, blocks  # issuer, title, 申请编号, addressee, at least one paragraph, signature, date
    position = 0
    for n, block in enumerate(blocks):
        found = text.find(block, position)
        assert found >= 0, f"block {n + 1}/{len(blocks)} missing from the PDF (or out of order): {block!r}"
        position = found + len(block)
    return text
