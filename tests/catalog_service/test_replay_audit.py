"""An Idempotency-Key replay changes nothing, so it leaves no entry in the hash-chained audit log (security review,
issue 11 item 10, the same class as failed tracking look-ups): the log is for changes and privileged reads."""

import uuid

from tests.catalog_service.helpers import API, make_organ
from tests.support import auth

AUDITOR = auth("auditor", sub="auditor-1")


async def audit_actions(client) -> list[str]:
    entries, after = [], 0
    while page := (await client.get("/internal/v1/audit", headers=AUDITOR,
                                    params={"after": after, "limit": 500})).json()["items"]:
        entries += page
        after = page[-1]["seq"]
    return [e["action"] for e in entries]


async def test_a_replayed_bulk_import_leaves_no_audit_entry(catalog):
    organ = await make_organ(catalog)
    headers = {**auth("integration", organ=organ, sub="oa-system", name="公文系统"),
               "Idempotency-Key": f"batch-{uuid.uuid4()}"}
    records = [{"external_id": "OA-1", "title": "关于做好政务公开工作的通知", "genre": "notice",
                "summary": "对政务公开工作作出部署。", "body": "各区、各部门：现将有关事项通知如下。"}]
    before = await audit_actions(catalog)
    for _ in range(4):
        r = await catalog.post(f"{API}/documents/bulk", headers=headers, json={"records": records})
        assert r.status_code == 200, r.text
    assert r.headers["idempotent-replayed"] == "true"
    assert (await audit_actions(catalog))[len(before):] == ["POST /api/v1/catalog/documents/bulk"]
