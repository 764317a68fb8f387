"""Coded values carry their zh/en label (标签) in every response (issue 14 item 7): beside each property whose
schema is a labelled vocabulary (`x-enum-labels`), a read model has `<field>_label` — `<singular>_labels` for a
list — required in the OpenAPI, so a front-end never hard-codes 予以公开 and friends."""

from datetime import date
from typing import Any

import pytest

from gateway.openapi import load_service_specs, merge
from tests.catalog_service.helpers import API as CATALOG_API
from tests.catalog_service.helpers import Staff, make_organ, publish
from tests.request_service.helpers import API as REQUEST_API
from tests.request_service.helpers import Desk, insert_application, organ_code

# The read models this mechanism covers (response schemas of the merged gateway.json).
COVERED = [
    "DocumentStaffRead", "ApplicationSummary", "ApplicationStaffRead", "ReviewStepRead", "RedactionRead",
    "HandlingStepRead", "ConsultationRecordRead", "ApplicantRead", "ApplicationReceipt", "RegisterReceipt",
    "ApplicantApplicationRead", "ApplicantMonthCount", "AppealRead", "LetterRead", "FeeCalculationRead",
    "FeePreviewRead", "WebhookSubscriptionRead", "WebhookDeliveryRead", "WebhookDeliveryDetail",
    "ChangeItem", "BulkRecordResult",
]

# Coded values knowingly left bare (see /work/notes/labels.md): why a bulk record was rejected.
BARE_CODES = {("BulkRecordResult", "reason")}


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[1] if ref else None


def _coded(prop: dict[str, Any], schemas: dict[str, Any]) -> tuple[str, bool] | None:
    """(vocabulary schema, is a list) when the property holds labelled codes, else None."""
    options = prop.get("anyOf", [prop])
    for option in options:
        many = option.get("type") == "array"
        name = _ref_name(option.get("items", {}) if many else option)
        if name and "x-enum-labels" in schemas.get(name, {}):
            return name, many
    return None


def _sibling(field: str, many: bool) -> str:
    # key_areas → key_area_labels, as the public record's labels have been named
    return f"{field.removesuffix('s')}_labels" if many else f"{field}_label"


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    return merge(load_service_specs())["components"]["schemas"]


@pytest.mark.parametrize("model", COVERED)
def test_every_coded_property_has_a_required_label_sibling(schemas: dict[str, Any], model: str):
    schema = schemas[model]
    props, required = schema["properties"], set(schema.get("required", []))
    missing = []
    for field, prop in props.items():
        coded = _coded(prop, schemas)
        if coded is None:
            # a bare code list (a Literal, inline `enum`) has no labels to give: it must be a vocabulary
            assert not any("enum" in o for o in prop.get("anyOf", [prop])) or (model, field) in BARE_CODES, (
                f"{model}.{field} is an unlabelled code list")
            continue
        sibling = _sibling(field, coded[1])
        if sibling not in props or sibling not in required or field not in required:
            missing.append(sibling)
    assert not missing, f"{model} lacks required labels {missing}"


def _terms(vocab: dict[str, list[dict[str, str]]]) -> dict[tuple[str, str], dict[str, str]]:
    return {(name, t["code"]): t for name, entries in vocab.items() for t in entries}


async def test_staff_document_record_labels_its_codes(catalog):
    terms = _terms((await catalog.get(f"{CATALOG_API}/vocabularies")).json()["vocabularies"])
    staff = Staff(await make_organ(catalog, "标签记录局"))
    doc_id = await publish(catalog, staff, genre="notice", key_areas=["fiscal_budget"])
    record = (await catalog.get(f"{CATALOG_API}/documents/{doc_id}/record", headers=staff.drafter)).json()
    assert record["status_label"] == terms[("document_status", "published")]
    assert record["attribute_label"] == terms[("disclosure_attribute", "proactive")]
    assert record["genre_label"] == terms[("genre", "notice")]
    assert record["validity_label"] == terms[("validity", record["validity"])]
    assert record["key_area_labels"] == [terms[("key_area", "fiscal_budget")]]
    assert record["withholding_ground_labels"] == []
    assert record["classification_level_label"] is None and record["article20_item_label"] is None


async def test_staff_application_labels_its_codes(requests_client, request_db):
    terms = _terms((await requests_client.get(f"{REQUEST_API}/vocabularies")).json()["vocabularies"])
    desk = Desk(organ_code())
    app_id = await insert_application(request_db, desk.organ, submitted=date(2025, 9, 25))
    body = (await requests_client.get(f"{REQUEST_API}/applications/{app_id}", headers=desk.handler)).json()
    assert body["status_label"] == terms[("application_status", "received")]
    assert body["channel_label"] == terms[("channel", body["channel"])]
    assert body["applicant_type_label"] == terms[("applicant_type", body["applicant_type"])]
    assert body["delivery_label"] == terms[("delivery", body["delivery"])]
    assert body["preferred_form_label"] == terms[("info_form", body["preferred_form"])]
    assert body["outcome_label"] is None and body["fee_method_label"] is None
    [row] = (await requests_client.get(f"{REQUEST_API}/applications", headers=desk.handler)).json()["items"]
    assert row["status_label"] == body["status_label"] and row["channel_label"] == body["channel_label"]
