"""Optimistic concurrency with ETag / If-Match (RFC 9110 §13.1.1, RFC 6585 §3).

Resources carry an integer `version`; the ETag is `"<version>"`. Updates and workflow transitions must send
If-Match: none → 428, stale → 412. The version check is repeated in the UPDATE itself (compare-and-set), so two
racing writers holding the same ETag cannot both win.
"""

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import PreconditionFailed, PreconditionRequired

__all__ = ["ETAG_HEADER", "bump_version", "document_etags", "document_if_match", "etag", "matches", "require_if_match"]


def etag(version: int) -> str:
    return f'"{version}"'


def matches(if_none_match: str | None, version: int) -> bool:
    """If-None-Match for conditional GETs (304)."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag(version) in tags


def require_if_match(if_match: str | None, version: int) -> None:
    if not if_match:
        raise PreconditionRequired("Send If-Match with the ETag you last read; unconditional changes are refused.")
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if etag(version) not in tags and "*" not in tags:
        raise PreconditionFailed(f"The resource changed (now version {version}); read it again and retry.")


def document_if_match(schema: dict[str, Any]) -> dict[str, Any]:
    """In the OpenAPI document, mark If-Match `required` on every operation that answers 428 without it.

    The header stays optional for FastAPI, so that its absence is our 428 (RFC 6585) rather than a 422; the
    document still has to tell clients (and generated ones) that the request is never accepted without it.
    """
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "428" not in operation.get("responses", {}):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name", "").lower() == "if-match":
                    parameter["required"] = True
                    schema_ = parameter.setdefault("schema", {})
                    schema_.pop("anyOf", None)  # `str | None` only so that FastAPI leaves the 428 to us
                    schema_.update({"type": "string", "minLength": 1})  # an empty If-Match is no ETag: 428
    return schema


ETAG_HEADER = {"ETag": {"description": "Version of the resource (an entity tag, RFC 9110): send it back in If-Match "
                                  "to change it, or in If-None-Match to revalidate a read (304)",
                   "schema": {"type": "string"}}}


def document_etags(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the `ETag` response header on every success that carries one, so typed clients can read it.

    A success carries the ETag of its resource when the resource is versioned (its JSON has `version`) or the
    operation is conditional (takes If-Match or If-None-Match: its answer is what the next condition compares
    with) — except a DELETE, which has nothing left to tag. Operations that send another entity tag (a removal
    answering with its parent record's new version) declare it on the route themselves (ETAG_HEADER).
    """
    components = schema.get("components", {}).get("schemas", {})

    def versioned(content: dict[str, Any]) -> bool:
        body = content.get("application/json", {}).get("schema", {})
        if "$ref" in body:
            body = components.get(body["$ref"].rsplit("/", 1)[-1], {})
        return "version" in body.get("properties", {})

    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or method == "delete":
                continue
            conditional = any(p.get("in") == "header" and p.get("name", "").lower() in ("if-match", "if-none-match")
                              for p in operation.get("parameters", []))
            for status, response in operation.get("responses", {}).items():
                if status[:1] == "2" and (conditional or versioned(response.get("content", {}))):
                    response.setdefault("headers", {}).setdefault("ETag", ETAG_HEADER["ETag"])
    return schema


async def bump_version(session: AsyncSession, entity: Any, expected: int) -> None:
    """Compare-and-set the version in the database: a concurrent writer that committed first makes this a 412."""
    model = type(entity)
    result = await session.execute(
        update(model).where(model.id == entity.id, model.version == expected).values(version=expected + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise PreconditionFailed("The resource was changed by someone else; read it again and retry.")
    entity.version = expected + 1
