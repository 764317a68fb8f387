"""No personal data in the gateway's logs (security review, issue 11 item 11): what callers send in query strings
(a search for a person's name, an unmask reason) and bodies (an application form) is forwarded, never logged — the
access line has the path only, and nothing else writes a URL or a body. Captured at DEBUG from every logger, as
records and as the JSON lines the gateway writes."""

import io
import logging

import pytest

from services.observability import JsonFormatter
from tests.gateway.conftest import Env

NAME, PHONE, ID_NUMBER = "欧阳娜娜", "13912345678", "11010519870304123X"


async def test_forwarded_queries_and_bodies_are_not_logged(env: Env, caplog: pytest.LogCaptureFixture):
    await env.start_upstreams()
    gw = await env.gateway(access_log=True)
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("gateway"))
    logging.getLogger().addHandler(handler)
    try:
        r = await gw.get("/api/v1/catalog/documents", params={"q": f"{NAME} {PHONE}"})
        assert r.status_code == 200
        r = await gw.post("/api/v1/requests/applications", json={"applicant": {
            "name": NAME, "phone": PHONE, "id_number": ID_NUMBER}, "info_title": f"{NAME}的征收补偿协议"})
        assert r.status_code < 500
        r = await gw.get("/api/v1/requests/applications/x/applicant", params={"unmask": "true", "reason": PHONE})
        assert r.status_code < 500
    finally:
        logging.getLogger().removeHandler(handler)
    assert any(rec.name == "gongkai.access" for rec in caplog.records)
    lines = [f"{rec.name} {rec.getMessage()} {rec.args!r} {getattr(rec, 'fields', '')}" for rec in caplog.records]
    lines += stream.getvalue().splitlines()
    for line in lines:
        for value in (NAME, PHONE, ID_NUMBER):
            assert value not in line, f"{value} logged: {line}"
