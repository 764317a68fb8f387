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

# Vocabulary entries: the coded value is the entry's subject and its zh/en sit beside it already.
VOCABULARY_ENTRIES = {"WithholdingGroundRead"}


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
    singular = field[:-3] + "y" if field.endswith("ies") else field.removesuffix("s")
    return f"{singular}_labels" if many else f"{field}_label"


def _response_schemas(spec: dict[str, Any]) -> list[str]:
    """Every component schema an operation can answer with (directly or nested)."""
    schemas, seen = spec["components"]["schemas"], set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            name = _ref_name(node)
            if name and name not in seen and name in schemas:
                seen.add(name)
                walk(schemas[name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                walk(operation.get("responses", {}))
    return sorted(seen)


SPEC = merge(load_service_specs())
RESPONSE_SCHEMAS = [name for name in _response_schemas(SPEC)
                    if SPEC["components"]["schemas"][name].get("properties") and name not in VOCABULARY_ENTRIES]


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    return SPEC["components"]["schemas"]


def _is_code_list(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [prop])
    return any("enum" in o or "enum" in o.get("items", {}) for o in options)


@pytest.mark.parametrize("model", RESPONSE_SCHEMAS)
def test_every_coded_property_has_a_required_label_sibling(schemas: dict[str, Any], model: str):
    schema = schemas[model]
    props, required = schema["properties"], set(schema.get("required", []))
    missing = []
    for field, prop in props.items():
        coded = _coded(prop, schemas)
        if coded is None:
            # a bare code list (a Literal, inline `enum`) has no labels to give: it must be a vocabulary
            assert not _is_code_list(prop), f"{model}.{field} is an unlabelled code list"
            continue
        sibling = _sibling(field, coded[1])
        if sibling not in props or sibling not in required or field not in required:
            missing.append(sibling)
    assert not missing, f"{model} lacks required labels {missing}"


def test_the_walk_reaches_the_read_models():
    # the parametrisation is not vacuous: the models of every service are in it
    assert {"DocumentStaffRead", "ApplicationStaffRead", "ScorecardRead", "ColumnRead", "BulkRecordResult",
            "BreachRead"} <= set(RESPONSE_SCHEMAS)


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
