"""merge() of the services' OpenAPI documents, and the committed openapi/*.json against what they generate."""

import copy

import pytest

from gateway.openapi import OPENAPI_DIR, TITLE, MergeConflict, load_service_specs, merge, render_all
from tests.gateway.conftest import STANDIN_SPECS, standin_spec


def test_merge_unions_public_paths_and_adds_the_gateway_own():
    merged = merge(STANDIN_SPECS)
    assert merged["info"]["title"] == TITLE
    for needle in ("Bearer", "make token", "problem+json", "code", "cursor", "ETag", "If-Match"):
        assert needle in merged["info"]["description"], needle
    assert set(merged["paths"]) == {"/api/v1/catalog/items", "/api/v1/requests/items", "/api/v1/stats/items",
                                    "/healthz", "/readyz", "/metrics"}
    assert merged["paths"]["/healthz"]["get"]["operationId"] == "gateway-healthz"
    assert "ErrorBody" in merged["components"]["schemas"]  # /readyz documents its 503 problem
    tags = [t["name"] for t in merged["tags"]]
    assert tags == ["catalog-items", "request-items", "stats-items", "gateway"]


def test_identical_shared_schemas_are_fine():
    specs = copy.deepcopy(STANDIN_SPECS)
    shared = {"type": "object", "title": "Term", "properties": {"code": {"type": "string"}}}
    for spec in specs.values():
        spec.setdefault("components", {}).setdefault("schemas", {})["Term"] = copy.deepcopy(shared)
        spec["paths"][next(p for p in spec["paths"] if p.startswith("/api/"))]["get"]["responses"]["200"] = {
            "description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Term"}}}}
    merged = merge(specs)
    assert merged["components"]["schemas"]["Term"] == shared


def test_same_schema_name_with_a_different_body_raises():
    specs = copy.deepcopy(STANDIN_SPECS)
    for name, id_type in (("catalog", "string"), ("request", "integer")):
        specs[name].setdefault("components", {}).setdefault("schemas", {})["DocumentRead"] = {
            "type": "object", "title": "DocumentRead", "properties": {"id": {"type": id_type}}}
    with pytest.raises(MergeConflict, match="DocumentRead"):
        merge(specs)


def test_duplicate_operation_id_raises():
    specs = copy.deepcopy(STANDIN_SPECS)
    specs["stats"] = standin_spec("catalog", "/api/v1/stats")  # operationId catalog-list_items twice
    with pytest.raises(MergeConflict, match="catalog-list_items"):
        merge(specs)


def test_path_served_twice_raises():
    specs = copy.deepcopy(STANDIN_SPECS)
    specs["stats"] = standin_spec("stats", "/api/v1/catalog")
    with pytest.raises(MergeConflict, match="/api/v1/catalog/items"):
        merge(specs)


def test_gateway_health_paths_from_a_service_are_dropped():
    merged = merge(STANDIN_SPECS)
    assert merged["paths"]["/healthz"]["get"]["tags"] == ["gateway"]


@pytest.fixture(scope="module")
def specs() -> dict:
    return load_service_specs()


class TestRealServices:
    """Against the three services' apps built in-process."""

    def test_merged_spec_has_the_paths_of_all_three_services(self, specs: dict):
        merged = merge(specs)
        for prefix in ("/api/v1/catalog/", "/api/v1/requests/", "/api/v1/stats/"):
            assert any(p.startswith(prefix) for p in merged["paths"]), prefix
        for name, spec in specs.items():
            public = {p for p in spec["paths"] if p.startswith("/api/")}
            assert public <= set(merged["paths"]), name
        assert not any(p.startswith("/internal/") for p in merged["paths"])
        assert "securitySchemes" not in merged["components"] or "HTTPBearer" in merged["components"][
            "securitySchemes"]

    def test_committed_specs_are_up_to_date(self, specs: dict):
        files = render_all(specs)
        assert set(files) == {"catalog.json", "request.json", "stats.json", "gateway.json"}
        stale = [name for name, text in files.items()
                 if not (OPENAPI_DIR / name).exists() or (OPENAPI_DIR / name).read_text(encoding="utf-8") != text]
        assert not stale, f"openapi/{stale} differ from the code: run `python -m gateway.openapi` and commit them"
