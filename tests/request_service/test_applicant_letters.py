"""The applicant's letters (申请人文书下载, issue 14 item 1): every letter and notice addressed to the applicant, as
HTML and PDF, with tracking number + 查询码 (the same brute-force limits as the tracking view) or signed in — and
nothing of anyone else's: another applicant's application or letter answers exactly as a random id does (404)."""

import uuid

from request_service.models import LookupAttempt
from tests.request_service.helpers import pdf_text
from tests.request_service.intake_support import API, submit
from tests.support import assert_problem, auth, expect_status

A = auth("applicant", sub="letters-citizen-a", name="申请人甲")
B = auth("applicant", sub="letters-citizen-b", name="申请人乙")


async def act(client, headers, app_id: str, action: str, body: dict) -> dict:
    etag = (await client.get(f"{API}/applications/{app_id}", headers=headers)).headers["etag"]
    r = await client.post(f"{API}/applications/{app_id}/{action}", headers={**headers, "If-Match": etag}, json=body)
    expect_status(r, 200)
    return r.json()


async def with_letters(client, desk, organ: str, headers: dict | None) -> dict:
    """An application with a consultation letter (to the third party: never the applicant's) and a supplement
    notice (补正告知书: the applicant's)."""
    receipt = await submit(client, organ, headers=headers)
    app_id = receipt["id"]
    await act(client, desk.clerk, app_id, "confirm", {"method": "系统回执"})
    await act(client, desk.handler, app_id, "consult", {"party_kind": "third_party", "party_name": "某某有限公司"})
    consultations = (await client.get(f"{API}/applications/{app_id}/third-party-consultations",
                                      headers=desk.handler)).json()["items"]
    await act(client, desk.handler, app_id, "record-opinion",
              {"consultation_id": consultations[0]["id"], "opinion": "consent"})
    await act(client, desk.handler, app_id, "request-supplement", {"items": ["请明确所需信息的年度"]})
    staff_letters = (await client.get(f"{API}/applications/{app_id}/letters", headers=desk.handler)).json()["items"]
    receipt["staff_letters"] = {letter["kind"]: letter["id"] for letter in staff_letters}
    return receipt


def tracked(receipt: dict, **overrides: str) -> dict:
    return {"tracking_no": receipt["tracking_no"], "query_code": receipt["query_code"], **overrides}


async def test_tracking_view_lists_letter_ids_and_the_letters_download(client, desk, organ):
    receipt = await with_letters(client, desk, organ, None)
    notice_id = receipt["staff_letters"]["supplement_notice"]
    view = (await client.post(f"{API}/track", json=tracked(receipt))).json()
    assert [(letter["kind"], letter["id"]) for letter in view["letters"]] == [("supplement_notice", notice_id)]
    listed = await client.post(f"{API}/track/letters", json=tracked(receipt))
    expect_status(listed, 200)
    assert [letter["id"] for letter in listed.json()["items"]] == [notice_id]
    assert listed.json()["items"][0]["kind_label"]["zh"] == "补正告知书"
    page = await client.post(f"{API}/track/letters/{notice_id}", json=tracked(receipt))
    expect_status(page, 200)
    assert page.headers["content-type"].startswith("text/html") and "请明确所需信息的年度" in page.text
    assert page.headers["x-letter-sha256"] == listed.json()["items"][0]["sha256"]
    pdf = await client.post(f"{API}/track/letters/{notice_id}.pdf", json=tracked(receipt))
    expect_status(pdf, 200)
    assert pdf.headers["content-type"] == "application/pdf" and "attachment" not in pdf.headers["content-disposition"]
    assert "请明确所需信息的年度" in pdf_text(pdf.content)
    # The third party's consultation letter exists, but is not the applicant's: as absent as a random id.
    consultation_id = receipt["staff_letters"]["consultation_letter"]
    for letter_id in (consultation_id, str(uuid.uuid4())):
        for suffix in ("", ".pdf"):
            r = await client.post(f"{API}/track/letters/{letter_id}{suffix}", json=tracked(receipt))
            assert_problem(r, 404, "letter_not_found")


async def test_wrong_query_code_is_counted_and_locks_the_letters_too(client, request_db, desk, organ):
    receipt = await with_letters(client, desk, organ, None)
    notice_id = receipt["staff_letters"]["supplement_notice"]
    paths = ["/track/letters", f"/track/letters/{notice_id}", f"/track/letters/{notice_id}.pdf"]
    for n in range(5):
        r = await client.post(f"{API}{paths[n % 3]}", json=tracked(receipt, query_code="WRONGCODE2"))
        assert_problem(r, 404, "application_not_found")
    async with request_db.transaction(write=False) as session:
        assert (await session.get(LookupAttempt, receipt["tracking_no"])).failures == 5
    for path in [*paths, "/track"]:  # locked now, even with the right code, on every door alike
        assert_problem(await client.post(f"{API}{path}", json=tracked(receipt)), 429, "lookup_locked")


async def test_another_applications_letters_are_not_found_by_its_number_or_its_code(client, desk, organ):
    mine = await with_letters(client, desk, organ, None)
    theirs = await with_letters(client, desk, organ, None)
    their_notice = theirs["staff_letters"]["supplement_notice"]
    # My number and code do not open their letter: 404 as for a letter that does not exist.
    r = await client.post(f"{API}/track/letters/{their_notice}", json=tracked(mine))
    assert_problem(r, 404, "letter_not_found")
    # Their number with my code is a failed look-up like any other.
    r = await client.post(f"{API}/track/letters", json=tracked(theirs, query_code=mine["query_code"]))
    assert_problem(r, 404, "application_not_found")


async def test_signed_in_applicant_lists_and_downloads_own_letters(client, desk, organ):
    mine = await with_letters(client, desk, organ, A)
    notice_id = mine["staff_letters"]["supplement_notice"]
    base = f"{API}/applications/mine/{mine['id']}/letters"
    listed = await client.get(base, headers=A)
    expect_status(listed, 200)
    assert [letter["id"] for letter in listed.json()["items"]] == [notice_id]
    mine_view = (await client.get(f"{API}/applications/mine", headers=A)).json()["items"][0]
    assert [letter["id"] for letter in mine_view["letters"]] == [notice_id]
    page = await client.get(f"{base}/{notice_id}", headers=A)
    expect_status(page, 200)
    assert "补正" in page.text and page.headers["content-security-policy"].startswith("default-src 'none'")
    pdf = await client.get(f"{base}/{notice_id}.pdf", headers=A)
    expect_status(pdf, 200)
    assert pdf.content.startswith(b"%PDF-")
    consultation_id = mine["staff_letters"]["consultation_letter"]
    assert_problem(await client.get(f"{base}/{consultation_id}", headers=A), 404, "letter_not_found")
    # Anonymous callers and staff have no "mine".
    assert_problem(await client.get(base), 401, "authentication_required")
    assert_problem(await client.get(base, headers=desk.handler), 403, "wrong_role")


async def test_another_applicants_letters_answer_as_a_random_id(client, desk, organ):
    theirs = await with_letters(client, desk, organ, B)
    anonymous = await with_letters(client, desk, organ, None)  # nobody's: not A's either
    their_notice = theirs["staff_letters"]["supplement_notice"]
    random_id = str(uuid.uuid4())
    for app_id in (theirs["id"], anonymous["id"], random_id):
        r = await client.get(f"{API}/applications/mine/{app_id}/letters", headers=A)
        body = assert_problem(r, 404, "application_not_found")
        assert app_id not in str({k: v for k, v in body.items() if k not in ("instance", "detail")})
        for suffix in ("", ".pdf"):
            r = await client.get(f"{API}/applications/mine/{app_id}/letters/{their_notice}{suffix}", headers=A)
            assert_problem(r, 404, "application_not_found")
    # A's own application does not open B's letter either.
    own = await with_letters(client, desk, organ, A)
    r = await client.get(f"{API}/applications/mine/{own['id']}/letters/{their_notice}.pdf", headers=A)
    assert_problem(r, 404, "letter_not_found")
    # And B still reads it.
    r = await client.get(f"{API}/applications/mine/{theirs['id']}/letters/{their_notice}", headers=B)
    expect_status(r, 200)
