"""No personal data in the logs (security review, issue 11 item 11): an application goes through the API from intake
to reply, letters and tracking with every log record captured — at DEBUG, from every logger (the service's own, the
access log, httpx, SQLAlchemy), as records and as the JSON lines the services write — and none of the applicant's
values appears in any of them. The request service used to log the catalogue URL with `q=<the requested title>`
(httpx's INFO line), and SQLAlchemy's statement log and errors carry the bound values (names, phone and ID numbers)."""

import io
import logging
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import text

from request_service.domain.applications import today
from request_service.domain.intake import catalogue_query
from services.observability import JsonFormatter
from tests.request_service.helpers import act
from tests.request_service.intake_support import API, applicant, mobile, register, resident_id
from tests.support import assert_problem


class Captured:
    def __init__(self, caplog: pytest.LogCaptureFixture, stream: io.StringIO) -> None:
        self.caplog, self.stream = caplog, stream

    def texts(self) -> list[str]:
        # Records as logged (message, arguments, structured fields); tracebacks as written, in the JSON lines.
        records = [f"{r.name} {r.getMessage()} {r.args!r} {getattr(r, 'fields', '')}" for r in self.caplog.records]
        return [*records, *self.stream.getvalue().splitlines()]

    def assert_absent(self, values: dict[str, str]) -> None:
        assert self.caplog.records, "nothing was logged: the capture is not working"
        texts = self.texts()
        for field, value in values.items():
            # As typed, and as it travels in a URL (percent-encoded, form-encoded).
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                for line in texts:
                    assert form not in line, f"{field} ({value}) logged: {line[:500]}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Captured]:
    """Every record at DEBUG, also formatted as the JSON lines a deployed service writes. Requested before the
    database fixtures, so their connection is opened with DEBUG in force (SQLAlchemy decides then whether to log)."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("request"))
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield Captured(caplog, stream)
    finally:
        logging.getLogger().removeHandler(handler)


async def test_a_whole_application_logs_no_personal_data(debug_logs, client, request_db, organ, desk, fake_catalog):
    person = applicant(name="欧阳娜娜", id_number=resident_id(born="19870304"), phone=mobile(),
                       email="ouyang.nana.private@example.org", address="广州市越秀区惠福东路888号501室",
                       postal_code="510030")
    title = "申请公开欧阳娜娜名下越秀区惠福东路888号房屋征收补偿协议的信息"
    description = "本人房屋位于惠福东路888号501室，请提供征收补偿协议及评估报告"
    fake_catalog.document("越秀区惠福东路888号房屋征收补偿协议")
    body = {"organ_code": organ, "applicant": person, "info_title": title, "info_description": description,
            "preferred_form": "electronic", "delivery": "email"}

    # Intake: online (anonymous), then registered by the clerk with an Idempotency-Key.
    r = await client.post(f"{API}/applications", json=body)
    assert r.status_code == 201, r.text
    receipt = r.json()
    r = await client.post(f"{API}/applications/register", headers={**desk.clerk, "Idempotency-Key": "log-test-1"},
                          json={**{k: v for k, v in body.items() if k != "organ_code"}, "channel": "in_person"})
    assert r.status_code == 201, r.text
    assert fake_catalog.requests, "intake did not ask the catalogue: the title never went near a URL"

    # Handling: confirm, suggestions, the personal data (masked and unmasked), monthly counts, reply, letters.
    app_id = receipt["id"]
    await act(client, desk.clerk, app_id, "confirm", {"on": today().isoformat(), "method": "电话确认"})
    assert (await client.get(f"{API}/applications/{app_id}/suggestions", headers=desk.handler)).status_code == 200
    assert (await client.get(f"{API}/applications/{app_id}/applicant", headers=desk.handler)).status_code == 200
    r = await client.get(f"{API}/applications/{app_id}/applicant", headers=desk.handler,
                         params={"unmask": "true", "reason": "核实申请人身份"})
    assert r.status_code == 200 and r.json()["applicant"]["phone"] == person["phone"]
    month = today().strftime("%Y-%m")
    assert (await client.get(f"{API}/applicants/monthly-counts", params={"month": month},
                             headers=desk.handler)).status_code == 200
    await act(client, desk.handler, app_id, "draft-reply", {"outcome": "granted", "comment": "予以公开"})
    await act(client, desk.approver, app_id, "approve-reply",
              {"comment": "同意", "context": {"provided_items": ["征收补偿协议"]}})
    letters = (await client.get(f"{API}/applications/{app_id}/letters", headers=desk.handler)).json()["items"]
    assert letters
    for letter in letters:
        assert (await client.get(f"{API}/applications/{app_id}/letters/{letter['id']}",
                                 headers=desk.handler)).status_code == 200
    assert (await client.get(f"{API}/applications/{app_id}/letters/{letters[0]['id']}.pdf",
                             headers=desk.handler)).status_code == 200

    # Tracking: a failure, then the applicant's own look-up.
    assert_problem(await client.post(f"{API}/track", json={"tracking_no": receipt["tracking_no"],
                                                           "query_code": "WRONGCODE2"}), 404)
    r = await client.post(f"{API}/track", json={"tracking_no": receipt["tracking_no"],
                                                "query_code": receipt["query_code"]})
    assert r.status_code == 200, r.text

    debug_logs.assert_absent({
        "name": person["name"], "id_number": person["id_number"], "phone": person["phone"],
        "email": person["email"], "address": person["address"], "title": title, "description": description,
        "catalogue query": catalogue_query(title)[:20], "query_code": receipt["query_code"],
    })


async def refuse_applications(db) -> None:
    """A database that refuses the application insert (a trigger): the error reaches services/errors.py, which logs
    it with its traceback — the statement's bound values were part of the message."""
    async with db.transaction() as session:
        if db.dialect == "postgresql":
            await session.execute(text("CREATE FUNCTION refuse_application() RETURNS trigger LANGUAGE plpgsql AS $$ "
                                       "BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))
            await session.execute(text("CREATE TRIGGER refuse_application BEFORE INSERT ON application "
                                       "FOR EACH ROW EXECUTE FUNCTION refuse_application()"))
        else:
            await session.execute(text("CREATE TRIGGER refuse_application BEFORE INSERT ON application "
                                       "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))


async def test_a_database_error_logs_no_personal_data(debug_logs, client, request_db, organ, desk):
    await refuse_applications(request_db)  # rolled back with the test's transaction
    person = applicant(name="司马相如", id_number=resident_id(born="19900909"), phone=mobile(),
                       email="sima.private@example.org", address="成都市锦江区琴台路99号")
    title = "申请公开琴台路99号危房鉴定报告"
    r = await client.post(f"{API}/applications/register", headers=desk.clerk, json={
        "channel": "in_person", "applicant": person, "info_title": title, "info_description": ""})
    assert_problem(r, 500)
    assert '"exc": "Traceback' in debug_logs.stream.getvalue(), "the error was not logged with its traceback"
    debug_logs.assert_absent({"name": person["name"], "id_number": person["id_number"], "phone": person["phone"],
                              "email": person["email"], "address": person["address"], "title": title})


async def test_a_validation_error_logs_no_personal_data(debug_logs, client, request_db, organ, desk, monkeypatch):
    """A bug that fails validation on an applicant's values: pydantic's message quotes them (input_value=…), and
    the unhandled error is logged with its traceback."""
    from request_service.api import intake as intake_api

    person = applicant(name="诸葛孔明", id_number=resident_id(born="19810405"), phone=mobile())
    app_id = (await register(client, desk, "in_person", applicant=person))["id"]

    def misfiled(app, principal, unmask=False, reason=None):  # the phone where the applicant type belongs
        return {"type": app.phone, "name": app.applicant_name, "id_number": app.id_number}

    monkeypatch.setattr(intake_api, "applicant_fields", misfiled)
    assert_problem(await client.get(f"{API}/applications/{app_id}/applicant", headers=desk.handler), 500)
    assert '"exc": "Traceback' in debug_logs.stream.getvalue(), "the error was not logged with its traceback"
    debug_logs.assert_absent({"name": person["name"], "id_number": person["id_number"], "phone": person["phone"]})
