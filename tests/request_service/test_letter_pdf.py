"""Letters fit to send and archive (issue 14 item 9): each letter has its 文号 (per organ 简称, year and series,
unique), the seal's place and the organ's contact line from its 公开指南 facts; the PDF embeds its font (a subset of
Noto Serif SC, no system font needed) and rasterises with Chinese glyphs on a machine with no CJK font; lines follow
中文禁则; the signature never stands alone on a page. Letters are downloaded through the staff API."""

import io
import re
import uuid
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from request_service.domain.applications import SHANGHAI, today
from request_service.domain.letter_pdf import CANNOT_END, CANNOT_START, break_lines
from request_service.domain.letters import issue_letter
from request_service.domain.organs import apply_organ_event
from request_service.models import Application
from tests.request_service.helpers import API, Desk, organ_code, pdf_text

ORGAN_NAME = "测试市财政局"
GUIDE = {"office_address": "测试市人民路1号", "phone": "020-12345678", "office_hours": "工作日9:00-12:00、14:00-17:30"}
CONTACT = "联系方式：地址：测试市人民路1号；电话：020-12345678；办公时间：工作日9:00-12:00、14:00-17:30"
# A reason dense in closing and opening marks: wherever a line ends, a mark is near.
PUNCTUATED = ("依据《中华人民共和国政府信息公开条例》（以下简称《条例》）第十五条、第十六条，“过程性信息”可以不予公开；"
              "经审查：该信息属于内部讨论记录。")


async def _organ(db, short_name: str, code: str | None = None) -> str:
    """An organ as the catalogue announces it (organ.created with its 简称 and 公开指南 facts)."""
    code = code or organ_code()
    async with db.transaction() as session:
        await apply_organ_event(session, {
            "id": 1, "type": "organ.created", "entity_type": "organ", "entity_id": str(uuid.uuid4()), "version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"id": str(uuid.uuid4()), "code": code, "name": ORGAN_NAME, "short_name": short_name,
                        "parent_code": None, "version": 1, **GUIDE}})
    return code


async def _application(db, organ: str, **fields) -> str:
    app_id = str(uuid.uuid4())
    values = dict(
        id=app_id, tracking_no=f"GK{uuid.uuid4().hex[:10].upper()}", query_code_hash="x", organ_code=organ,
        channel="online", submitted_at=datetime(2026, 2, 9, 20, tzinfo=UTC), receipt_date=date(2026, 2, 10),
        applicant_type="natural_person", applicant_name="王五", applicant_key=uuid.uuid4().hex,
        id_type="resident_id", id_number="11010519491231002X", phone="13812345678",
        info_title="2025年城市更新项目的立项批复", status="accepted", due_on=date(2026, 3, 16), delivery="email",
        outcome="withheld.process_information")
    values.update(fields)
    async with db.transaction() as session:
        session.add(Application(**values))
    return app_id


async def _issue(db, app_id: str, kind: str, context: dict | None = None):
    async with db.transaction() as session:
        return await issue_letter(session, await session.get(Application, app_id), kind, "handler-1", context)


async def _download(client, desk: Desk, app_id: str, letter_id: str) -> bytes:
    r = await client.get(f"{API}/applications/{app_id}/letters/{letter_id}.pdf", headers=desk.handler)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
    return r.content


def _short_name() -> str:
    """A 简称 of its own per test: serials are per 简称, and the test databases are shared by the session."""
    return "测" + "".join("零一二三四五六七八九"[int(d)] for d in f"{uuid.uuid4().int % 10**6:06d}")


# ------------------------------------------------------------------------------------------------- 文号, contact

async def test_letters_carry_their_number_seal_and_contact_line(requests_client, request_db):
    short = _short_name()
    desk = Desk(await _organ(request_db, short))
    app_id = await _application(request_db, desk.organ)
    receipt = await _issue(request_db, app_id, "receipt")
    first = await _issue(request_db, app_id, "reply", {"reasons": "属于内部讨论记录"})
    second = await _issue(request_db, app_id, "reply", {"reasons": "属于内部讨论记录"})
    year = today().year
    assert (receipt.number, first.number, second.number) == (
        f"{short}依收〔{year}〕1号", f"{short}依复〔{year}〕1号", f"{short}依复〔{year}〕2号")

    r = await requests_client.get(f"{API}/applications/{app_id}/letters", headers=desk.clerk)
    assert r.status_code == 200, r.text
    assert [x["number"] for x in r.json()["items"]] == [receipt.number, first.number, second.number]

    page = await requests_client.get(f"{API}/applications/{app_id}/letters/{first.id}", headers=desk.handler)
    assert page.status_code == 200 and page.text == first.html
    assert f'<p class="number">{first.number}</p>' in page.text
    assert 'class="seal"' in page.text.split('<div class="closing">')[1].split("</div>")[0]  # over the date
    assert f"{CONTACT}</p>" in page.text

    text = pdf_text(await _download(requests_client, desk, app_id, first.id))
    assert text.startswith(f"{ORGAN_NAME}{first.number}政府信息公开申请答复书申请编号："), text[:60]
    assert text.endswith(f"{ORGAN_NAME}{today().year}年{today().month}月{today().day}日{CONTACT}"), text[-120:]


async def test_organs_sharing_a_short_name_share_its_series(request_db):
    """文号 are unique: two organs announced with the same 简称 draw from one series, never the same serial."""
    short = _short_name()
    apps = [await _application(request_db, await _organ(request_db, short)) for _ in range(2)]
    numbers = [(await _issue(request_db, app_id, "supplement_notice", {"items": ["请明确年度"]})).number
               for app_id in apps for _ in range(2)]
    assert numbers == [f"{short}依补〔{today().year}〕{n}号" for n in (1, 2, 3, 4)]


async def test_an_organ_without_guide_facts_prints_no_contact_line(requests_client, request_db):
    desk = Desk(organ_code())
    async with request_db.transaction() as session:  # announced before it had a 公开指南: name only
        await apply_organ_event(session, {
            "id": 1, "type": "organ.created", "entity_type": "organ", "entity_id": str(uuid.uuid4()), "version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"id": str(uuid.uuid4()), "code": desk.organ, "name": "测试市统计局", "version": 1}})
    app_id = await _application(request_db, desk.organ)
    letter = await _issue(request_db, app_id, "receipt")
    assert letter.number == f"测试市统计局依收〔{today().year}〕{letter.number.split('〕')[1]}"
    assert "联系方式" not in letter.html
    text = pdf_text(await _download(requests_client, desk, app_id, letter.id))
    assert letter.number in text and "联系方式" not in text


# ------------------------------------------------------------------------------------------------ embedded font

def _fonts(pdf: bytes) -> list[dict]:
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {}
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            fonts[font["/BaseFont"]] = font
    return list(fonts.values())


async def test_the_pdf_embeds_a_subset_of_its_font(requests_client, request_db):
    desk = Desk(await _organ(request_db, _short_name()))
    app_id = await _application(request_db, desk.organ)
    letter = await _issue(request_db, app_id, "reply", {"reasons": PUNCTUATED})
    pdf = await _download(requests_client, desk, app_id, letter.id)
    fonts = _fonts(pdf)
    assert fonts and b"STSong" not in pdf and b"Helvetica" not in pdf
    for font in fonts:  # every font of every page: a TrueType subset with its program in the file
        assert re.fullmatch(r"/[A-Z]{6}\+NotoSerifSC-Regular", font["/BaseFont"]), font["/BaseFont"]
        descriptor = font["/FontDescriptor"].get_object()
        program = descriptor["/FontFile2"].get_object().get_data()
        assert program[:4] == b"\x00\x01\x00\x00" and 1_000 < len(program) < 200_000, len(program)
        assert "/ToUnicode" in font  # text stays searchable and extractable
    assert len(pdf) < 300_000  # a subset: the whole font is 11 MB


async def test_the_pdf_draws_chinese_without_any_system_font(requests_client, request_db):
    """Rasterised with PDFium on a machine with no CJK font installed, the title's characters are drawn, each its
    own glyph (not blank, not the same missing-glyph box): the drawing comes from the font in the file."""
    import pypdfium2 as pdfium

    desk = Desk(await _organ(request_db, _short_name()))
    app_id = await _application(request_db, desk.organ)
    letter = await _issue(request_db, app_id, "reply", {"reasons": "属于内部讨论记录"})
    document = pdfium.PdfDocument(await _download(requests_client, desk, app_id, letter.id))
    page = document[0]
    scale = 3
    image = page.render(scale=scale, grayscale=True).to_pil()
    text_page = page.get_textpage()
    title = "政府信息公开申请答复书"
    everything = text_page.get_text_range()
    start = everything.find(title)
    assert start >= 0, everything[:80]
    height = page.get_height()
    glyphs = []
    for index in range(start, start + len(title)):
        left, bottom, right, top = text_page.get_charbox(index)
        box = (int(left * scale), int((height - top) * scale), int(right * scale) + 1,
               int((height - bottom) * scale) + 1)
        cell = image.crop(box)
        dark = sum(cell.histogram()[:128])
        assert dark > 20, (title[index - start], box, dark)  # drawn, not blank
        glyphs.append(cell.point(lambda v: 0 if v < 128 else 255).tobytes())
    distinct = set(glyphs)
    assert len(distinct) >= len(set(title)) - 1, len(distinct)  # distinct characters, distinct drawings
    document.close()


async def test_the_pdf_carries_archival_metadata_and_an_output_intent(requests_client, request_db):
    """What ReportLab leaves out and an archive (PDF/A-2b) needs besides embedded fonts: XMP metadata, unfiltered,
    saying what the document information says, and an sRGB output intent; dates are the letter's own. No PDF/A
    identification is written: no validator (veraPDF) has passed these files, so they do not claim conformance."""
    desk = Desk(await _organ(request_db, _short_name()))
    app_id = await _application(request_db, desk.organ)
    letter = await _issue(request_db, app_id, "reply", {"reasons": "属于内部讨论记录"})
    pdf = await _download(requests_client, desk, app_id, letter.id)
    assert pdf == await _download(requests_client, desk, app_id, letter.id)  # the same bytes every time
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.trailer["/ID"] and "/Encrypt" not in reader.trailer
    root = reader.trailer["/Root"]
    metadata = root["/Metadata"]
    raw = pdf[pdf.index(b"<?xpacket begin") - 120:pdf.index(b"<?xpacket begin")]
    assert b"/Type /Metadata" in raw and b"/Filter" not in raw  # readable as is, without decoding
    info, xmp = reader.metadata, reader.xmp_metadata
    created = letter.created_at.astimezone(SHANGHAI).replace(microsecond=0)
    assert info["/CreationDate"] == info["/ModDate"] == created.strftime("D:%Y%m%d%H%M%S+08'00'")
    assert xmp.dc_title == {"x-default": info["/Title"]} and info["/Title"].startswith("政府信息公开申请答复书（GK")
    assert xmp.dc_creator == [info["/Author"]] == [ORGAN_NAME]
    assert xmp.dc_description == {"x-default": info["/Subject"]} == {"x-default": letter.sha256}
    assert (xmp.xmp_creator_tool, xmp.pdf_producer) == (info["/Creator"], info["/Producer"])
    assert xmp.xmp_create_date == xmp.xmp_modify_date == created.astimezone(UTC).replace(tzinfo=None)
    assert b"pdfaid" not in metadata.get_data()
    intent = root["/OutputIntents"][0].get_object()
    assert (intent["/Type"], intent["/S"], intent["/OutputConditionIdentifier"]) == (
        "/OutputIntent", "/GTS_PDFA1", "sRGB IEC61966-2.1")
    profile = intent["/DestOutputProfile"].get_object()
    icc = profile.get_data()
    assert profile["/N"] == 3 and icc[36:40] == b"acsp" and icc[16:20] == b"RGB "
    assert len(icc) == int.from_bytes(icc[:4])  # the whole profile, as its header says


# ------------------------------------------------------------------------------------------------------- 禁则

def _width(text: str) -> float:
    """One unit per character: what matters here is where breaks fall, not glyph shapes."""
    return float(len(text))


@pytest.mark.parametrize("width", range(4, 31))
def test_break_lines_never_starts_with_closing_or_ends_with_opening_punctuation(width):
    lines = break_lines(PUNCTUATED, width, _width)
    assert "".join(lines) == PUNCTUATED  # nothing lost, nothing added
    for line in lines:
        assert line[0] not in CANNOT_START, (width, lines)
        assert line[-1] not in CANNOT_END, (width, lines)
        assert len(line) <= width, (width, lines)


def test_break_lines_pushes_the_character_before_a_closing_mark_down():
    assert break_lines("申请获取《条例》。", 7, _width) == ["申请获取《条", "例》。"]
    assert break_lines("第三十六条第（二）项", 5, _width) == ["第三十六条", "第（二）项"]
    assert break_lines("第三十六条第（二）项", 7, _width) == ["第三十六条第", "（二）项"]  # （ never ends a line


def test_break_lines_keeps_numbers_urls_and_doubled_marks_whole():
    assert break_lines("请于2026年3月16日前", 8, _width) == ["请于2026年3", "月16日前"]
    assert break_lines("检索了2024——2026年", 7, _width) == ["检索了", "2024——", "2026年"]
    assert break_lines("查看https://example.gov.cn/zwgk/12.html。", 10, _width) == [
        "查看", "https://ex", "ample.gov.", "cn/zwgk/12", ".html。"]  # longer than a line: the one forced cut


def test_break_lines_indents_the_first_line_and_drops_spaces_at_breaks():
    assert break_lines("工作日 9:00-12:00 14:00-17:30", 12, _width, first_indent=2) == [
        "工作日", "9:00-12:00", "14:00-17:30"]
    assert break_lines("一二三四五六", 4, _width, first_indent=2) == ["一二", "三四五六"]


async def test_no_line_of_a_downloaded_letter_breaks_against_the_rules(requests_client, request_db):
    desk = Desk(await _organ(request_db, _short_name()))
    app_id = await _application(request_db, desk.organ)
    for shift in range(8):  # the marks fall at every position of a line across these letters
        letter = await _issue(request_db, app_id, "reply", {"reasons": "经审查" * shift + PUNCTUATED * 3})
        pdf = await _download(requests_client, desk, app_id, letter.id)
        for page in PdfReader(io.BytesIO(pdf)).pages:
            for line in (re.sub(r"\s+", "", line) for line in page.extract_text().split("\n")):
                if line:
                    assert line[0] not in CANNOT_START and line[-1] not in CANNOT_END, (shift, line)


# ------------------------------------------------------------------------------------------- signature kept

async def test_the_signature_never_stands_alone_on_a_page(requests_client, request_db):
    """Replies whose reasons grow a line at a time: wherever the body ends, the signature and date are on the page
    of the closing formula and the end of the paragraph before it (the remedy notice)."""
    desk = Desk(await _organ(request_db, _short_name()))
    app_id = await _application(request_db, desk.organ)
    signature = f"{ORGAN_NAME}{today().year}年{today().month}月{today().day}日"
    for lines in range(14, 44):
        letter = await _issue(request_db, app_id, "reply", {"reasons": "内部讨论记录" * (5 * lines)})
        pdf = await _download(requests_client, desk, app_id, letter.id)
        pages = [re.sub(r"\s+", "", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]
        signed = [page for page in pages if signature in page]
        assert len(signed) == 1, (lines, pages)
        assert "特此答复。" + signature in signed[0], (lines, signed[0][:80])
        assert "提起行政诉讼。" in signed[0], (lines, signed[0][:80])  # the remedy notice ends there too
