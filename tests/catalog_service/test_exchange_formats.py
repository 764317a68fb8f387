"""Exchange formats (交换格式, issue 15 item 4): the published catalogue exported as JSON-LD with DCAT / DCMI terms
and as the provincial 集约化 information-resource library's metadata record, each with its validator, and an
export → import into a fresh database that loses no public field. Also the 索引号 a migrated record keeps."""

import io
import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from catalog_service.app import create_app
from catalog_service.importer import ImportStopped, run
from services.db import Database, make_engine
from tests.catalog_service.helpers import API, Staff, make_organ, publish
from tests.catalog_service.helpers import draft as draft_document
from tests.catalog_service.test_historical_import import migrated
from tests.catalog_service.test_sync import bulk, integration
from tests.harness import drop_database, new_database
from tests.stats_service.helpers import Forward
from tests.support import auth, expect_status, serve

# ---- a migrated record keeps its 索引号 ------------------------------------------------------------------------------

async def test_a_migrated_record_keeps_its_index_number(catalog):
    organ = await make_organ(catalog, "索引号迁移测试局")
    kept = f"{organ}/2025-00007"
    body = (await bulk(catalog, integration(organ), [
        migrated(1, index_no=kept), migrated(2), migrated(3, index_no=kept), migrated(4, index_no="旧系统-0001"),
    ])).json()
    assert [(r["status"], r["reason"]) for r in body["results"]] == [
        ("created", None), ("created", None), ("rejected", "index_no_taken"), ("created", None)], body
    records = [(await catalog.get(f"{API}/documents/{body['results'][i]['document_id']}")).json() for i in (0, 1, 3)]
    assert records[0]["index_no"] == kept and records[2]["index_no"] == "旧系统-0001"
    # The organ's own serials of 2025 go on after the kept one: the record numbered in the same call took 00008,
    # and a kept number never comes back as a new one.
    assert records[1]["index_no"] == f"{organ}/2025-00008"
    again = (await bulk(catalog, integration(organ), [migrated(5), migrated(6, index_no=kept)])).json()
    assert [(r["status"], r["reason"]) for r in again["results"]] == [("created", None),
                                                                      ("rejected", "index_no_taken")], again
    fifth = (await catalog.get(f"{API}/documents/{again['results'][0]['document_id']}")).json()
    assert fifth["index_no"] == f"{organ}/2025-00009"


# ---- the export profiles, their validators, and export → import into a fresh database ------------------------------

PROFILES = ("dcat-jsonld", "jiyuehua")
# The public record's fields the round trip must keep. `id` is the exporting catalogue's: the importing one gives
# its own and keeps the old one as external_id (compared through the mapping), as it maps a 解读's target.
PUBLIC_FIELDS = ("index_no", "title", "summary", "doc_number", "organ_code", "organ_name", "subject_category",
                 "genre", "key_areas", "keywords", "written_date", "effective_date", "repeal_date", "validity",
                 "published_at", "body", "interpretation_of", "subject_category_label", "genre_label",
                 "key_area_labels", "validity_label")


@pytest.fixture
def fresh_catalog_url(tmp_path) -> Iterator[str]:
    """A catalogue database of its own, migrated and empty (the importing platform)."""
    url = new_database("catalog", tmp_path, label="import")
    yield url
    drop_database(url)


async def source_world(catalog) -> tuple[str, list[str]]:
    """An organ's public records with every public field used: a workflow publication with all metadata, a
    解读 of it, and migrated records that are repealed, amended and expired; plus a draft (never exported)."""
    organ = await make_organ(catalog, "交换格式测试局")
    staff = Staff(organ)
    main = await publish(catalog, staff, title="关于印发《政务公开工作规范》的通知", summary="规范政务公开工作。",
                         doc_number="交测〔2026〕3号", subject_category="general_affairs",
                         genre="normative_document", key_areas=["fiscal_budget", "public_resources"],
                         keywords=["政务公开", "规范"], written_date="2026-01-05", effective_date="2026-02-01",
                         body="第一条 为了规范政务公开工作，制定本规范。")
    explained = await publish(catalog, staff, title="《政务公开工作规范》政策解读", genre="interpretation",
                              interpretation_of=main, body="一、起草背景。")
    old = [migrated(10, validity="repealed", repeal_date="2025-11-20", index_no=f"{organ}/2025-00040"),
           migrated(11, validity="amended") | {"doc_number": "交测〔2025〕1号", "keywords": ["旧规"]},
           migrated(12, validity="expired") | {"summary": "已失效的通知。", "effective_date": "2025-04-01"}]
    body = (await bulk(catalog, integration(organ), old)).json()
    assert body["summary"]["published"] == 3, body
    await draft_document(catalog, staff, title="尚未发布的草稿")
    return organ, [main, explained, *(r["document_id"] for r in body["results"])]


async def export_all(catalog, profile: str, organ: str) -> list[dict[str, Any]]:
    """Every page of the organ's export at limit 2, following next_cursor."""
    records, after = [], None
    while True:
        r = await catalog.get(f"{API}/export", params={"profile": profile, "organ": organ, "limit": 2,
                                                       **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        records += page["items"]
        if not page["has_more"]:
            return records
        assert r.headers["link"].endswith('rel="next"')
        after = page["next_cursor"]


async def test_dcat_jsonld_export(catalog):
    organ, ids = await source_world(catalog)
    main, explained = ids[0], ids[1]
    r = await catalog.get(f"{API}/documents/{main}/export", params={"profile": "dcat-jsonld"},
                          headers={"Accept": "application/ld+json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json"), r.text
    record = r.json()
    public = (await catalog.get(f"{API}/documents/{main}")).json()
    context = record["@context"]
    assert context["dcat"] == "http://www.w3.org/ns/dcat#" and context["dct"] == "http://purl.org/dc/terms/"
    assert record["@type"] == "dcat:Dataset" and record["@id"] == f"urn:uuid:{main}"
    assert record["dct:identifier"] == public["index_no"] and record["dct:title"] == public["title"]
    assert record["dct:created"] == "2026-01-05" and record["dct:issued"] == public["published_at"]
    assert record["dct:publisher"] == {"@type": "foaf:Organization", "foaf:name": "交换格式测试局",
                                       "dct:identifier": organ}
    assert record["dct:subject"] == {"@type": "skos:Concept", "skos:notation": "general_affairs",
                                     "skos:prefLabel": "综合政务"}
    assert record["dct:type"]["skos:prefLabel"] == "行政规范性文件"
    assert [t["skos:notation"] for t in record["dcat:theme"]] == ["fiscal_budget", "public_resources"]
    assert record["dcat:keyword"] == ["政务公开", "规范"] and record["gk:docNumber"] == "交测〔2026〕3号"
    assert record["gk:validity"]["skos:notation"] == "in_force" and record["gk:effectiveDate"] == "2026-02-01"
    assert "dct:license" not in record  # the catalogue records no licence: none is invented
    explaining = (await catalog.get(f"{API}/documents/{explained}/export", params={"profile": "dcat-jsonld"})).json()
    assert explaining["gk:interpretationOf"] == f"urn:uuid:{main}"
    # Without asking for JSON-LD: the same document as application/json.
    r = await catalog.get(f"{API}/documents/{main}/export", params={"profile": "dcat-jsonld"})
    assert r.headers["content-type"].startswith("application/json")
    # The page: the context once, the records as its graph; a draft is never exported.
    page = (await catalog.get(f"{API}/export", params={"profile": "dcat-jsonld", "organ": organ})).json()
    assert page["@context"]["items"] == "@graph" and "@context" not in page["items"][0]
    assert sorted(i["@id"] for i in page["items"]) == sorted(f"urn:uuid:{i}" for i in ids)
    # Not public: 404 as GET /documents/{id}; an unknown profile: 422.
    draft_id, _ = await draft_document(catalog, Staff(organ))
    r = await catalog.get(f"{API}/documents/{draft_id}/export", params={"profile": "dcat-jsonld"})
    expect_status(r, 404, "document_not_found")
    r = await catalog.get(f"{API}/export", params={"profile": "rdf-xml"})
    expect_status(r, 422, "validation_error")


async def test_jiyuehua_export(catalog):
    organ, ids = await source_world(catalog)
    record = (await catalog.get(f"{API}/documents/{ids[0]}/export", params={"profile": "jiyuehua"})).json()
    public = (await catalog.get(f"{API}/documents/{ids[0]}")).json()
    assert record["信息标识"] == ids[0] and record["索引号"] == public["index_no"]
    assert (record["名称"], record["内容概述"], record["文号"]) == (public["title"], "规范政务公开工作。",
                                                         "交测〔2026〕3号")
    assert record["发布机构"] == {"名称": "交换格式测试局", "代码": organ}
    assert (record["成文日期"], record["发布日期"], record["实施日期"]) == ("2026-01-05", public["published_at"],
                                                                "2026-02-01")
    assert record["主题分类"] == {"代码": "general_affairs", "名称": "综合政务"}
    assert record["体裁分类"] == {"代码": "normative_document", "名称": "行政规范性文件"}
    assert record["有效性"] == {"代码": "in_force", "名称": "现行有效"} and record["公开方式"] == "主动公开"
    assert record["关键词"] == ["政务公开", "规范"] and [t["代码"] for t in record["重点领域"]] == [
        "fiscal_budget", "public_resources"]
    repealed = (await catalog.get(f"{API}/documents/{ids[2]}/export", params={"profile": "jiyuehua"})).json()
    assert repealed["索引号"] == f"{organ}/2025-00040" and repealed["废止日期"] == "2025-11-20"


async def test_validators(catalog):
    organ, ids = await source_world(catalog)
    for profile in PROFILES:
        records = await export_all(catalog, profile, organ)
        schema = (await catalog.get(f"{API}/export/schema", params={"profile": profile})).json()
        # Our validator and, independently, the published JSON Schema (jsonschema_rs, the fuzzer's validator)
        # accept every exported record.
        r = await catalog.post(f"{API}/export/validate", params={"profile": profile}, json=records)
        assert r.status_code == 200 and r.json() == {"profile": profile, "valid": True, "records": len(ids),
                                                     "errors": []}, r.text
        validator = jsonschema_rs.validator_for(schema)
        assert all(validator.is_valid(record) for record in records), profile
    # Broken records: each fault found, at its place.
    dcat = (await catalog.get(f"{API}/documents/{ids[0]}/export", params={"profile": "dcat-jsonld"})).json()
    broken = [dcat | {"dct:issued": "2026-01-05T09:00:00"},  # no offset
              {k: v for k, v in dcat.items() if k != "dct:title"},
              dcat | {"dct:subject": {**dcat["dct:subject"], "skos:notation": "astrology"}}]
    answer = (await catalog.post(f"{API}/export/validate", params={"profile": "dcat-jsonld"}, json=broken)).json()
    assert not answer["valid"]
    assert {(e["record"], e["loc"][0]) for e in answer["errors"]} == {(0, "dct:issued"), (1, "dct:title"),
                                                                     (2, "dct:subject")}, answer
    ji = (await catalog.get(f"{API}/documents/{ids[0]}/export", params={"profile": "jiyuehua"})).json()
    broken = [ji | {"有效性": {"代码": "maybe", "名称": "也许"}}, ji | {"公开方式": "依申请公开"},
              ji | {"附加字段": 1}, {k: v for k, v in ji.items() if k != "发布机构"}]
    answer = (await catalog.post(f"{API}/export/validate", params={"profile": "jiyuehua"},
                                 json={"items": broken})).json()
    assert {(e["record"], e["loc"][0]) for e in answer["errors"]} == {
        (0, "有效性"), (1, "公开方式"), (2, "附加字段"), (3, "发布机构")}, answer
    assert validator_rejects(schema_of := (await catalog.get(f"{API}/export/schema",
                                                             params={"profile": "jiyuehua"})).json(), broken[1:])
    assert schema_of["title"] == "JiyuehuaRecord"


def validator_rejects(schema: dict[str, Any], records: list[dict[str, Any]]) -> bool:
    validator = jsonschema_rs.validator_for(schema)
    return not any(validator.is_valid(record) for record in records)


@pytest.mark.parametrize("profile", PROFILES)
async def test_export_then_import_into_a_fresh_database_loses_no_field(catalog, fresh_catalog_url, tmp_path,
                                                                        profile):
    organ, ids = await source_world(catalog)
    exported = await export_all(catalog, profile, organ)
    source = {i: (await catalog.get(f"{API}/documents/{i}")).json() for i in ids}
    # Put the 解读 first: the importer must still send it after the record it explains.
    exported.sort(key=lambda r: 0 if (r.get("gk:interpretationOf") or r.get("解读对象")) else 1)
    if profile == "dcat-jsonld":  # a saved page, as GET /export answers it (the context once, records in items)
        path = tmp_path / "export.jsonld"
        path.write_text(json.dumps({"@context": {"dcat": "http://www.w3.org/ns/dcat#"}, "items": exported},
                                   ensure_ascii=False), encoding="utf-8")
    else:  # NDJSON, one record a line
        path = tmp_path / "export.ndjson"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in exported), encoding="utf-8")

    database = Database(make_engine(fresh_catalog_url, null_pool=True))
    try:
        async with serve(create_app(database=database)) as target:
            r = await target.post(f"{API}/organs", headers=auth("admin"),
                                  json={"code": organ, "name": "交换格式测试局", "kind": "department"})
            assert r.status_code == 201, r.text
            token = integration(organ, "province-library")["Authorization"].removeprefix("Bearer ")
            out = io.StringIO()
            status = await run(path, url="http://target", token=token, batch_size=500, out=out, err=io.StringIO(),
                               transport=Forward(target))
            assert status == 0, out.getvalue()
            assert out.getvalue().count("batch") == 2  # the 解读 in a batch of its own, after its target
            imported = []
            after = None
            while True:  # the importing catalogue's own change feed: everything it now publishes
                page = (await target.get(f"{API}/changes", params={"after": after or 0, "limit": 100})).json()
                imported += [i["record"] for i in page["items"] if i["record"]]
                if not page["has_more"]:
                    break
                after = page["next_cursor"]
            by_new_id = {r["id"]: r for r in imported}
            assert len(by_new_id) == len(ids)
            staff = Staff(organ)
            old_id = {}
            for new_id in by_new_id:
                record = (await target.get(f"{API}/documents/{new_id}/record", headers=staff.unit_head)).json()
                assert record["migrated"] is True
                old_id[new_id] = next(i for i in ids if by_new_id[new_id]["index_no"] == source[i]["index_no"])
            for new_id, record in by_new_id.items():
                original = source[old_id[new_id]]
                mapped = {**record, "interpretation_of": old_id.get(record["interpretation_of"])}
                for name in PUBLIC_FIELDS:
                    assert mapped[name] == original[name], (profile, name, mapped[name], original[name])
                assert set(record) - set(PUBLIC_FIELDS) == {"id", "attachments"}
    finally:
        await database.dispose()


async def test_the_importer_keeps_records_with_their_organ(catalog, tmp_path):
    organ, ids = await source_world(catalog)
    other = await make_organ(catalog, "另一个局")
    exported = await export_all(catalog, "jiyuehua", organ)
    path = tmp_path / "export.ndjson"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in exported), encoding="utf-8")
    # Another organ's token: the API would file the records under it, so the importer stops before sending.
    token = integration(other, "province-library")["Authorization"].removeprefix("Bearer ")
    with pytest.raises(ImportStopped, match="use that organ's token"):
        await run(path, url="http://catalog", token=token, out=io.StringIO(), err=io.StringIO(),
                  transport=Forward(catalog))
    # Records of two organs in one file: stopped too. An invalid record is named, and rejected in its place.
    mixed = [*exported, exported[0] | {"信息标识": "x", "发布机构": {"名称": "另一个局", "代码": other}}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in mixed), encoding="utf-8")
    with pytest.raises(ImportStopped, match="several 发布机构"):
        await run(path, url="http://catalog", token=token, out=io.StringIO(), err=io.StringIO(),
                  transport=Forward(catalog))
    broken = [exported[0] | {"有效性": {"代码": "maybe", "名称": "也许"}}]
    path.write_text(json.dumps(broken[0], ensure_ascii=False) + "\n", encoding="utf-8")
    err = io.StringIO()
    assert await run(path, url="http://catalog", token=token, dry_run=True, out=io.StringIO(), err=err) == 1
    assert "record 1 is not a valid jiyuehua record: 有效性.代码" in err.getvalue()

