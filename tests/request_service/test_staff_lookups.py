"""Staff look-ups (issue 14 item 5): an application by tracking number, the applications of one applicant (identity in
the body, rows without personal data, every look-up in the audit log), `assigned_to=me` on the work-list, and the
organ's staff directory for assignment — all within the caller's organ."""

from tests.request_service.intake_support import API, Desk, add_organ, applicant, assert_no_pii, resident_id, submit
from tests.support import assert_problem, auth, expect_status

AUDITOR = auth("auditor", sub="auditor-lookups")


async def act(client, headers, app_id: str, action: str, body: dict) -> None:
    etag = (await client.get(f"{API}/applications/{app_id}", headers=headers)).headers["etag"]
    r = await client.post(f"{API}/applications/{app_id}/{action}", headers={**headers, "If-Match": etag}, json=body)
    expect_status(r, 200)


async def ids(client, headers, **params) -> list[str]:
    r = await client.get(f"{API}/applications", headers=headers, params=params)
    expect_status(r, 200)
    return [item["id"] for item in r.json()["items"]]


async def test_by_tracking_number_in_the_callers_organ_only(client, request_db, organ, desk):
    mine = await submit(client, organ)
    await submit(client, organ)
    typed = " ".join(mine["tracking_no"].lower())  # as read out over the phone
    assert await ids(client, desk.handler, tracking_no=typed) == [mine["id"]]
    other = Desk(await add_organ(request_db))
    assert await ids(client, other.handler, tracking_no=mine["tracking_no"]) == []
    r = await client.get(f"{API}/applications", headers=desk.handler, params={"tracking_no": "12345"})
    assert_problem(r, 422, "validation_error")


async def test_assigned_to_me_and_to_a_colleague(client, organ, desk):
    second = auth("handler", organ=organ, sub=f"handler2@{organ}", name="承办人乙")
    apps = [(await submit(client, organ))["id"] for _ in range(3)]
    for app_id in apps:
        await act(client, desk.clerk, app_id, "confirm", {"method": "系统回执"})
    await act(client, desk.clerk, apps[0], "assign", {"handler_sub": f"handler@{organ}"})
    await act(client, desk.clerk, apps[1], "assign", {"handler_sub": f"handler2@{organ}"})
    assert await ids(client, desk.handler, assigned_to="me") == [apps[0]]
    assert await ids(client, second, assigned_to="me") == [apps[1]]
    assert await ids(client, desk.approver, assigned_to=f"handler2@{organ}") == [apps[1]]
    assert await ids(client, desk.approver, assigned_to="me") == []  # nothing is assigned to the approver


async def test_by_applicant_identity_masked_and_audited(client, request_db, organ, desk):
    id_number = resident_id()
    person = applicant(id_number=id_number, phone="13912345678")
    first = await submit(client, organ, applicant=person)
    # The same person, typed differently: lower-case x, other contact details.
    second = await submit(client, organ, applicant={**person, "id_number": id_number.lower(), "phone": None,
                                                     "email": "other@example.com"})
    someone_else = await submit(client, organ)
    head = (await client.get("/internal/v1/audit/verify", headers=AUDITOR)).json()["head_seq"]
    query = {"type": "natural_person", "name": "张三", "id_type": "resident_id", "id_number": id_number}
    r = await client.post(f"{API}/applications/lookup", headers=desk.handler, json=query)
    expect_status(r, 200)
    found = [item["id"] for item in r.json()["items"]]
    assert sorted(found) == sorted([first["id"], second["id"]]) and someone_else["id"] not in found
    assert_no_pii(r, id_number, "13912345678", "张三")
    # Audited: who looked an applicant up, and when — without the identity itself.
    log = (await client.get("/internal/v1/audit", headers=AUDITOR, params={"after": head})).json()["items"]
    lookups = [e for e in log if e["action"] == f"POST {API}/applications/lookup"]
    assert [e["actor"] for e in lookups] == [f"handler@{organ}"]
    assert id_number not in str(lookups) and id_number[-4:] not in str(lookups)
    # Another organ's staff find nothing of this organ's; the identity in a URL is not accepted at all.
    other = Desk(await add_organ(request_db))
    r = await client.post(f"{API}/applications/lookup", headers=other.handler, json=query)
    assert r.json()["items"] == []
    assert_problem(await client.post(f"{API}/applications/lookup", headers=desk.handler,
                                     json={"type": "natural_person", "name": "张三"}), 422, "validation_error")
    assert_problem(await client.post(f"{API}/applications/lookup", headers=auth("applicant", sub="x"), json=query),
                   403, "wrong_role")


async def test_staff_directory_from_the_tokens_seen(client, request_db, organ, desk):
    second = auth("handler", organ=organ, sub=f"handler2@{organ}", name="承办人乙")
    other = Desk(await add_organ(request_db))
    for headers in (desk.clerk, desk.handler, second, desk.approver, other.handler, desk.drafter):
        await client.get(f"{API}/applications", headers=headers)
    r = await client.get(f"{API}/staff", headers=desk.clerk)
    expect_status(r, 200)
    people = {p["sub"]: p for p in r.json()["items"]}
    assert set(people) == {f"clerk@{organ}", f"handler@{organ}", f"handler2@{organ}", f"approver@{organ}"}
    assert people[f"handler2@{organ}"]["name"] == "承办人乙"
    assert people[f"handler2@{organ}"]["roles"] == [{"code": "handler", "zh": "承办人", "en": "Handler"}]
    r = await client.get(f"{API}/staff", headers=desk.clerk, params={"role": "handler"})
    assert sorted(p["sub"] for p in r.json()["items"]) == [f"handler2@{organ}", f"handler@{organ}"]
    # What the directory gives is what `assign` takes.
    app_id = (await submit(client, organ))["id"]
    await act(client, desk.clerk, app_id, "confirm", {"method": "系统回执"})
    await act(client, desk.clerk, app_id, "assign", {"handler_sub": people[f"handler2@{organ}"]["sub"]})
    assert await ids(client, second, assigned_to="me") == [app_id]
    assert_problem(await client.get(f"{API}/staff", headers=auth("applicant", sub="y")), 403, "wrong_role")
