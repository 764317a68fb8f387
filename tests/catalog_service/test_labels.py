"""Every coded value in a catalogue response carries its zh/en label beside the code (issue 14 item 7), the same
label the vocabulary endpoint gives, so a front-end never hard-codes 予以公开 and friends."""

from tests.catalog_service.helpers import API, Staff, make_organ, publish


async def test_public_record_search_hit_and_organ_carry_their_labels(catalog):
    vocab = (await catalog.get(f"{API}/vocabularies")).json()["vocabularies"]
    terms = {(name, t["code"]): t for name, entries in vocab.items() for t in entries}

    def term(vocabulary: str, code: str) -> dict:
        return terms[(vocabulary, code)]

    staff = Staff(await make_organ(catalog, "标签测试局"))
    doc_id = await publish(catalog, staff, title="关于标签的通知", genre="notice", key_areas=["fiscal_budget"])
    record = (await catalog.get(f"{API}/documents/{doc_id}")).json()
    assert record["genre_label"] == term("genre", "notice")
    assert record["validity_label"] == term("validity", record["validity"])
    assert record["key_area_labels"] == [term("key_area", "fiscal_budget")]
    assert record["subject_category_label"] is None or record["subject_category_label"]["code"]

    [hit] = (await catalog.get(f"{API}/documents", params={"organ": staff.organ})).json()["items"]
    assert hit["genre_label"] == term("genre", "notice") and hit["validity_label"] == record["validity_label"]

    staff_hit = (await catalog.get(f"{API}/documents", headers=staff.unit_head,
                                   params={"organ": staff.organ, "scope": "organ"})).json()["items"][0]
    assert staff_hit["status_label"] == term("document_status", "published")
    assert staff_hit["attribute_label"] == term("disclosure_attribute", "proactive")
