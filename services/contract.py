"""What the OpenAPI document promises typed clients (issue 14 item 8): response fields that are always sent are
`required`, so a generated type (openapi-typescript, openapi-generator …) has no `?` on them.

FastAPI documents responses in pydantic's serialization mode, where a field with a default is optional — true of a
request, not of a response: FastAPI serialises the whole response model (no service uses response_model_exclude_*),
so every field is present, null where it has no value. Request schemas are left as pydantic made them: a field with
a default is optional there.
"""

from collections.abc import Iterator
from typing import Any

__all__ = ["require_response_fields"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_SCHEMA_REF = "#/components/schemas/"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
            yield ref.removeprefix(_SCHEMA_REF)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _closure(schemas: dict[str, Any], roots: list[str]) -> set[str]:
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            pending.extend(_refs(schemas[name]))
    return seen


def require_response_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """Mark every property of a schema that only successes carry as required (idempotent).

    A schema that a request can also carry (the shared enums) is left alone: pydantic's input schema is right for
    the request, and a schema body cannot be both. ErrorBody is reached only from problems, whose `instance`,
    `request_id` and `errors` really are left out when empty.
    """
    schemas = schema.get("components", {}).get("schemas", {})
    inputs: list[str] = []
    outputs: list[str] = []
    for path_item in schema.get("paths", {}).values():
        for method in _METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            inputs += [*_refs(operation.get("requestBody", {})), *_refs(operation.get("parameters", []))]
            for status, response in operation.get("responses", {}).items():
                if status[:1] in ("2", "3"):
                    outputs += list(_refs(response))
    for name in sorted(_closure(schemas, outputs) - _closure(schemas, inputs)):
        body = schemas[name]
        properties = body.get("properties")
        if body.get("type") == "object" and properties:
            body["required"] = list(properties)
    return schema
