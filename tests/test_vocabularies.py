"""Every service serves its vocabularies with Chinese and English labels, and the OpenAPI enums carry them."""

import pytest

from tests.support import serve


@pytest.mark.parametrize(("package", "prefix", "vocab", "code", "zh"), [
    ("catalog_service", "/api/v1/catalog", "disclosure_attribute", "proactive", "主动公开"),
    ("catalog_service", "/api/v1/catalog", "genre", "normative_document", "行政规范性文件"),
    ("request_service", "/api/v1/requests", "outcome", "granted", "予以公开"),
    ("request_service", "/api/v1/requests", "applicant_type", "legal_service_org", "法律服务机构"),
    ("stats_service", "/api/v1/stats", "appeal_outcome", "corrected", "结果纠正"),
])
async def test_vocabulary_endpoint_and_openapi_labels(catalog_db, request_db, stats_db, package, prefix, vocab,
                                                      code, zh):
    import importlib

    db = {"catalog_service": catalog_db, "request_service": request_db, "stats_service": stats_db}[package]
    app = importlib.import_module(f"{package}.app").create_app(database=db)
    async with serve(app) as client:
        body = (await client.get(f"{prefix}/vocabularies")).json()
    terms = {t["code"]: t for t in body["vocabularies"][vocab]}
    assert terms[code]["zh"] == zh and terms[code]["en"]
    schemas = app.openapi()["components"]["schemas"]
    labelled = [s for s in schemas.values() if code in s.get("enum", []) and "x-enum-labels" in s]
    if labelled:  # enums used by a route appear in the OpenAPI with the same labels
        assert labelled[0]["x-enum-labels"][code]["zh"] == zh


def test_outcome_codes_are_the_report_rows():
    from request_service.vocab import Outcome

    rows = ["granted", "partially_granted", "withheld.state_secret", "withheld.prohibited_by_law",
            "withheld.endangers_security_stability", "withheld.third_party_rights", "withheld.internal_affairs",
            "withheld.process_information", "withheld.enforcement_case_file", "withheld.administrative_query",
            "unable.not_held", "unable.needs_creation", "unable.still_unclear_after_supplement",
            "not_processed.petition_complaint", "not_processed.repeat_application",
            "not_processed.publication_requested", "not_processed.excessive_volume",
            "not_processed.confirmation_requested", "other.no_supplement", "other.fee_unpaid", "other.other"]
    assert [o.value for o in Outcome] == rows
