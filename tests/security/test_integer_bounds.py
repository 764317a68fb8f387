"""Every integer a caller can send is bounded before it reaches the database (security review, issue 11 item 8).

`GET /api/v1/catalog/changes?after=9223372036854775808` was a 500: SQLite binds integers as signed 64-bit and
raises OverflowError past 2**63-1. Every integer query and path parameter of every app now declares a minimum
and a maximum within int64 (so an out-of-range value is a 422 problem+json from validation, documented in the
OpenAPI), and the integers inside opaque cursors are held to the same range.
"""

from typing import Any

import httpx
import pytest

from gateway.app import create_app as create_gateway
from gateway.config import GatewaySettings
from services.pagination import encode_cursor
from tests.support import assert_problem, auth

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TOO_BIG = str(2**63)


def _integer_schemas(schema: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The integer schemas a parameter schema admits (through $ref, anyOf/oneOf/allOf and array items)."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    found = [schema] if schema.get("type") == "integer" else []
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += _integer_schemas(sub, spec)
    if schema.get("type") == "array" and "items" in schema:
        found += _integer_schemas(schema["items"], spec)
    return found


def unbounded_integer_parameters(spec: dict[str, Any]) -> list[str]:
    problems = []
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                for schema in _integer_schemas(parameter.get("schema", {}), spec):
                    low = schema.get("minimum", schema.get("exclusiveMinimum"))
                    high = schema.get("maximum", schema.get("exclusiveMaximum"))
                    if low is None or high is None or low < INT64_MIN or high > INT64_MAX:
                        problems.append(f"{method.upper()} {path} {parameter['in']}:{parameter['name']} "
                                        f"[{low}, {high}]")
    return problems


async def test_every_integer_parameter_of_every_app_is_bounded_within_int64(catalog, requests_client, stats):
    specs = {name: (await client.get("/openapi.json")).json()
             for name, client in (("catalog", catalog), ("request", requests_client), ("stats", stats))}
    gateway = create_gateway(GatewaySettings(access_log=False), openapi_specs={}, manage_logging=False)
    specs["gateway"] = gateway.local_app.openapi()
    counted = 0
    for name, spec in specs.items():
        assert unbounded_integer_parameters(spec) == [], name
        counted += sum(len(_integer_schemas(p.get("schema", {}), spec)) for ops in spec["paths"].values()
                       for op in ops.values() if isinstance(op, dict) for p in op.get("parameters", []))
    assert counted > 40  # the walk saw the parameters (limits, cursors, years, …), not an empty document


@pytest.mark.parametrize("path", ["/api/v1/catalog/changes", "/internal/v1/events", "/internal/v1/audit"])
async def test_catalogue_cursors_past_int64_are_a_422_not_a_500(catalog, path: str):
    headers = auth("service", sub="stats-service") if path == "/internal/v1/events" else auth("auditor")
    for value in (TOO_BIG, str(2**64), "1" + "0" * 40):
        assert_problem(await catalog.get(path, params={"after": value}, headers=headers), 422, "validation_error")
    ok = await catalog.get(path, params={"after": str(INT64_MAX)}, headers=headers)
    assert ok.status_code == 200, ok.text


async def _other_feeds(client: httpx.AsyncClient) -> None:
    headers = auth("service", sub="catalog-service")
    assert_problem(await client.get("/internal/v1/events", params={"after": TOO_BIG}, headers=headers), 422,
                   "validation_error")
    assert_problem(await client.get("/internal/v1/audit/verify", params={"expect_seq": TOO_BIG},
                                    headers=auth("auditor")), 422, "validation_error")
    assert (await client.get("/internal/v1/events", params={"after": str(INT64_MAX)},
                             headers=headers)).status_code == 200


async def test_the_request_service_feeds_past_int64_are_a_422(requests_client):
    await _other_feeds(requests_client)


async def test_the_statistics_feeds_past_int64_are_a_422(stats):
    await _other_feeds(stats)


async def test_an_integer_past_int64_inside_a_cursor_is_an_invalid_cursor(requests_client):
    handler = auth("handler", organ="11440100MB0000001X", sub="handler-1")
    for count in (2**63, -(2**63) - 1):
        r = await requests_client.get("/api/v1/requests/applicants/monthly-counts", headers=handler,
                                      params={"month": "2026-03", "after": encode_cursor([count, "k"])})
        assert_problem(r, 422, "validation_error")
