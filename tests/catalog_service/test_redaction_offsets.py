"""Text positions in one documented unit, the other accepted explicitly (issue 14 item 2).

Redaction offsets are Unicode code points (Python string indices; 𠮷 U+20BB7 is one) unless the request says
`offset_unit: "utf16"` — the unit of JavaScript's String indices, where 𠮷 is two. Every redaction read gives both.
The failure this guards against: a portal computed the span of a phone number in JavaScript after a 𠮷 and the
server, counting code points, withheld the wrong span and left digits of the number visible.
"""

import re

from tests.catalog_service.helpers import API, Staff, act, draft, make_organ, with_etag
from tests.support import assert_problem

PHONE = "13812345678"
BODY = f"联系人：𠮷田𠮷先生，电话{PHONE}，地址略。"


def js_index(text: str, index: int) -> int:
    """`text.indexOf(...)` as JavaScript computes it: UTF-16 code units before code point `index`."""
    return len(text[:index].encode("utf-16-le")) // 2


def js_span(text: str, segment: str) -> tuple[int, int]:
    start = text.index(segment)
    return js_index(text, start), js_index(text, start + len(segment))


async def redact(client, staff: Staff, doc_id: str, etag: str, start: int, end: int, **extra):
    return await client.post(f"{API}/documents/{doc_id}/redactions", headers=with_etag(staff.secrecy_officer, etag),
                             json={"field": "body", "start": start, "end": end, "ground": "third_party_rights",
                                   **extra})


async def test_utf16_offsets_from_javascript_withhold_exactly_the_phone_number(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff, body=BODY)
    start16, end16 = js_span(BODY, PHONE)
    assert (start16, end16) == (BODY.index(PHONE) + 2, BODY.index(PHONE) + 2 + len(PHONE))  # two 𠮷 before it
    r = await redact(catalog, staff, doc_id, etag, start16, end16, offset_unit="utf16")
    assert r.status_code == 201, r.text
    redaction = r.json()
    assert redaction["text"] == PHONE
    assert (redaction["start"], redaction["end"]) == (BODY.index(PHONE), BODY.index(PHONE) + len(PHONE))
    assert (redaction["start_utf16"], redaction["end_utf16"]) == (start16, end16)
    # Published: not one digit of the number is left in the public body.
    etag = r.headers["etag"]
    etag = (await act(catalog, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(catalog, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    await act(catalog, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
    public = (await catalog.get(f"{API}/documents/{doc_id}")).json()["body"]
    assert not re.search(r"\d", public), public
    assert public.startswith("联系人：𠮷田𠮷先生，电话［已删除") and public.endswith("，地址略。")


async def test_code_points_stay_the_default_and_both_units_follow_an_edit(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff, body=BODY)
    start = BODY.index(PHONE)
    r = await redact(catalog, staff, doc_id, etag, start, start + len(PHONE))  # no offset_unit: code points
    assert r.status_code == 201, r.text
    assert r.json()["text"] == PHONE and r.json()["start_utf16"] == js_index(BODY, start)
    r = await redact(catalog, staff, doc_id, r.headers["etag"], 0, 3, offset_unit="codepoint")
    assert r.status_code == 201 and r.json()["text"] == "联系人"
    edited = f"𠮷𠮷【更正】{BODY}"
    r = await catalog.patch(f"{API}/documents/{doc_id}", headers=with_etag(staff.drafter, r.headers["etag"]),
                            json={"body": edited})
    assert r.status_code == 200, r.text
    moved = next(x for x in r.json()["redactions"] if x["text"] == PHONE)
    assert (moved["start"], moved["end"]) == (edited.index(PHONE), edited.index(PHONE) + len(PHONE))
    assert (moved["start_utf16"], moved["end_utf16"]) == js_span(edited, PHONE)


async def test_utf16_offsets_inside_a_character_or_past_the_end_are_refused(catalog):
    staff = Staff(await make_organ(catalog))
    doc_id, etag = await draft(catalog, staff, body=BODY)
    inside = js_index(BODY, BODY.index("𠮷")) + 1  # between the two halves of 𠮷's surrogate pair
    r = await redact(catalog, staff, doc_id, etag, inside, inside + 3, offset_unit="utf16")
    body = assert_problem(r, 422, "offset_inside_character")
    assert body["errors"][0]["loc"] == ["body", "start"]
    end16 = js_index(BODY, len(BODY))
    assert_problem(await redact(catalog, staff, doc_id, etag, 0, end16 + 1, offset_unit="utf16"), 422,
                   "invalid_reference")
    assert (await redact(catalog, staff, doc_id, etag, 0, end16, offset_unit="utf16")).status_code == 201
    assert_problem(await redact(catalog, staff, doc_id, etag, 0, 2, offset_unit="bytes"), 422, "validation_error")
