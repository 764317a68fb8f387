"""The OpenAPI document generates accurate typed clients (issue 14 item 8).

- a response field the service always sends is `required` in the response schema (a generated type has no `?`),
  a request field with a default is not (a client may leave it out);
- every problem response of an operation lists the `code` values that operation can answer, as an enum.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.openapi import _refs, load_service_specs, merge
from services.problem_codes import codes_of

_METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return merge(load_service_specs())


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in _METHODS:
            if method in item:
                yield path, method, item[method]


def _closure(spec: dict[str, Any], roots: list[str]) -> set[str]:
    schemas = spec["components"]["schemas"]
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(_refs(schemas[name]))
    return seen


def _sides(spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(schemas a request can carry, schemas a success response can carry)."""
    inputs: list[str] = []
    outputs: list[str] = []
    for _, _, operation in _operations(spec):
        inputs += [*_refs(operation.get("requestBody", {})), *_refs(operation.get("parameters", []))]
        for status, response in operation.get("responses", {}).items():
            if status[:1] in ("2", "3"):
                outputs += list(_refs(response))
    return _closure(spec, inputs), _closure(spec, outputs)


def test_response_fields_are_required(spec):
    """FastAPI serialises the whole response model (no response_model_exclude_*), so every field is present —
    null where it has no value. Only the gateway's own readiness answer leaves out what is None."""
    inputs, outputs = _sides(spec)
    schemas = spec["components"]["schemas"]
    optional = {}
    for name in sorted(outputs - inputs - {"GatewayReadiness", "UpstreamStatus", "InstanceStatus", "GatewayHealth"}):
        body = schemas[name]
        missing = set(body.get("properties", {})) - set(body.get("required", []))
        if missing:
            optional[name] = sorted(missing)
    assert not optional, f"response fields always sent but not required: {optional}"
    page = schemas["Page_OrganRead_"]
    assert set(page["required"]) >= {"items", "next_cursor", "has_more", "total"}


def test_request_fields_with_a_default_are_optional(spec):
    inputs, _ = _sides(spec)
    schemas = spec["components"]["schemas"]
    wrong = {name: sorted(p for p, s in schemas[name].get("properties", {}).items()
                          if "default" in s and p in schemas[name].get("required", []))
             for name in inputs}
    assert not {k: v for k, v in wrong.items() if v}
    # a request body really is validated with the defaults: DocumentCreate may leave out `attachments`
    create = schemas["DocumentCreate"]
    assert "attachments" not in create.get("required", [])


def _codes(spec: dict[str, Any], response: dict[str, Any]) -> set[str] | None:
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return codes_of(response)


def test_problem_responses_list_the_codes_of_their_operation(spec):
    operation = spec["paths"]["/api/v1/catalog/documents/{document_id}"]["get"]["responses"]
    assert _codes(spec, operation["404"]) == {"document_not_found"}
    assert _codes(spec, operation["401"]) == {"token_expired", "token_invalid", "token_not_yet_valid",
                                              "token_wrong_audience"}  # public: no authentication_required
    assert _codes(spec, operation["429"]) == {"too_many_requests"}
    # the service's own 429 and the gateway's rate limit, one enum
    track = spec["paths"]["/api/v1/requests/track"]["post"]["responses"]
    assert _codes(spec, track["429"]) >= {"lookup_locked", "too_many_requests"}
    assert _codes(spec, track["422"]) >= {"validation_error"}
    # a write: the workflow's refusals, the preconditions, the policy's
    submit = spec["paths"]["/api/v1/catalog/documents/{document_id}/submit"]["post"]["responses"]
    assert _codes(spec, submit["409"]) >= {"invalid_transition"}
    assert _codes(spec, submit["412"]) == {"precondition_failed"}
    assert _codes(spec, submit["428"]) == {"precondition_required"}
    assert _codes(spec, submit["403"]) >= {"outside_organ", "wrong_role"}
    assert "authentication_required" in _codes(spec, submit["401"])


def test_every_problem_response_has_its_codes(spec):
    """No operation of the three services leaves a problem status without its enum (the gateway's own /healthz,
    /readyz and /metrics aside)."""
    plain = [f"{method.upper()} {path} {status}" for path, method, operation in _operations(spec)
             if path.startswith("/api/") for status, response in operation["responses"].items()
             if status[:1] in ("4", "5") and _codes(spec, response) is None]
    assert not plain, plain
