"""机构改革 through the API: an organ moves with its whole subtree under another superior (or to the top level),
hierarchy queries follow at once, cycles are refused, and one organ.updated event announces the move."""

from catalog_service.codes import uscc_check_char
from tests.catalog_service.helpers import API, make_organ, with_etag
from tests.support import assert_problem, auth

ADMIN = auth("admin")


async def under(client, code: str) -> set[str]:
    """`?under=`: the organ first, then its subordinates (in path order, i.e. by id within a level)."""
    r = await client.get(f"{API}/organs", params={"under": code})
    assert r.status_code == 200, r.text
    codes = [o["code"] for o in r.json()["items"]]
    assert codes[0] == code and len(set(codes)) == len(codes), codes
    return set(codes)


async def move(client, code: str, parent_code: str | None, *, etag: str | None = None):
    if etag is None:
        etag = (await client.get(f"{API}/organs/{code}")).headers["etag"]
    return await client.patch(f"{API}/organs/{code}", headers=with_etag(ADMIN, etag),
                              json={"parent_code": parent_code})


async def organ_events(client, code: str) -> list[dict]:
    feed = (await client.get("/internal/v1/events", headers=auth("service"), params={"limit": 1000})).json()
    return [e for e in feed["items"] if e["type"].startswith("organ.") and e["payload"]["code"] == code]


async def test_an_organ_moves_with_its_subordinates(catalog):
    old_city = await make_organ(catalog, "旧市人民政府", kind="peoples_government")
    new_city = await make_organ(catalog, "新市人民政府", kind="peoples_government")
    bureau = await make_organ(catalog, "旧市农业局", parent=old_city)
    office = await make_organ(catalog, "旧市农业局办公室", parent=bureau)
    station = await make_organ(catalog, "旧市农业局农技站", parent=office, kind="public_institution")
    stays = await make_organ(catalog, "旧市财政局", parent=old_city)
    assert await under(catalog, old_city) == {old_city, bureau, office, station, stays}
    subordinate_before = (await catalog.get(f"{API}/organs/{office}")).json()

    r = await move(catalog, bureau, new_city)
    assert r.status_code == 200, r.text
    moved = r.json()
    new_city_id = (await catalog.get(f"{API}/organs/{new_city}")).json()["id"]
    # The superior by its organ code, as everywhere else in the API (issue 14 item 7): no internal UUID.
    assert moved["parent_code"] == new_city and "parent_id" not in moved
    assert moved["version"] == 2 and r.headers["etag"] == '"2"'
    assert moved["kind_label"] == {"code": "department", "zh": "政府部门", "en": "Government department"}
    listed = (await catalog.get(f"{API}/organs", params={"under": new_city})).json()["items"]
    assert {o["code"]: o["parent_code"] for o in listed} == {new_city: None, bureau: new_city, office: bureau,
                                                          station: office}
    assert await under(catalog, old_city) == {old_city, stays}
    assert await under(catalog, new_city) == {new_city, bureau, office, station}
    assert await under(catalog, bureau) == {bureau, office, station}
    assert await under(catalog, office) == {office, station}
    assert await under(catalog, station) == {station}
    # The subordinates themselves did not change: same representation, same version (ETag).
    assert (await catalog.get(f"{API}/organs/{office}")).json() == subordinate_before

    # One organ.updated, for the moved organ, with its new parent; nothing for the subordinates.
    events = await organ_events(catalog, bureau)
    assert [e["type"] for e in events] == ["organ.created", "organ.updated"]
    payload = events[-1]["payload"]
    assert payload["parent_code"] == new_city and payload["parent_id"] == new_city_id and payload["version"] == 2
    assert events[-1]["version"] == 2
    assert [e["type"] for e in await organ_events(catalog, office)] == ["organ.created"]

    # To the top level (null), and the moved subtree is found from there.
    r = await move(catalog, bureau, None)
    assert r.status_code == 200 and r.json()["parent_code"] is None
    assert await under(catalog, new_city) == {new_city}
    assert await under(catalog, bureau) == {bureau, office, station}
    assert (await organ_events(catalog, bureau))[-1]["payload"]["parent_code"] is None

    # Other fields can change in the same call; leaving parent_code out keeps the parent.
    etag = (await catalog.get(f"{API}/organs/{office}")).headers["etag"]
    r = await catalog.patch(f"{API}/organs/{office}", headers=with_etag(ADMIN, etag), json={"name": "新市农业局办公室"})
    assert r.status_code == 200 and await under(catalog, bureau) == {bureau, office, station}
    r = await catalog.patch(f"{API}/organs/{office}", headers=with_etag(ADMIN, r.headers["etag"]),
                            json={"name": "新市农业农村局办公室", "parent_code": new_city})
    assert r.status_code == 200 and r.json()["name"] == "新市农业农村局办公室"
    assert await under(catalog, new_city) == {new_city, office, station}
    assert await under(catalog, bureau) == {bureau}


async def test_cycles_and_unknown_superiors_are_refused(catalog):
    city = await make_organ(catalog, "示例市人民政府", kind="peoples_government")
    bureau = await make_organ(catalog, "示例市交通局", parent=city)
    office = await make_organ(catalog, "示例市交通局办公室", parent=bureau)
    etag = (await catalog.get(f"{API}/organs/{city}")).headers["etag"]
    for target, parent in ((city, city), (city, bureau), (city, office), (bureau, office), (bureau, bureau)):
        body = assert_problem(await move(catalog, target, parent), 422, "organ_hierarchy_cycle")
        assert body["errors"][0]["loc"] == ["body", "parent_code"]
    unknown = "11440100MC9999999"
    unknown += uscc_check_char(unknown)  # well-formed, not registered
    assert_problem(await move(catalog, bureau, unknown), 422, "invalid_reference")
    assert_problem(await move(catalog, bureau, unknown[:17] + ("0" if unknown[17] != "0" else "1")), 422,
                   "validation_error")  # a wrong check character (GB 32100)
    # Nothing moved and nothing was announced; the ETag read before is still good.
    assert await under(catalog, city) == {city, bureau, office}
    assert [e["type"] for e in await organ_events(catalog, city)] == ["organ.created"]
    assert (await move(catalog, city, None, etag=etag)).status_code == 200


async def test_a_move_needs_the_admin_and_the_current_etag(catalog):
    city = await make_organ(catalog, "示例市人民政府", kind="peoples_government")
    bureau = await make_organ(catalog)
    path = f"{API}/organs/{bureau}"
    assert_problem(await catalog.patch(path, headers=ADMIN, json={"parent_code": city}), 428)
    assert_problem(await catalog.patch(path, headers=with_etag(auth("drafter", organ=bureau), '"1"'),
                                       json={"parent_code": city}), 403)
    assert_problem(await catalog.patch(path, headers=with_etag(ADMIN, '"7"'), json={"parent_code": city}), 412)
    assert await under(catalog, city) == {city}
    assert (await move(catalog, bureau, city, etag='"1"')).status_code == 200
    assert_problem(await move(catalog, bureau, None, etag='"1"'), 412)  # the move made version 2
    assert await under(catalog, city) == {city, bureau}
