"""Keyset (cursor) pagination for feeds and work-lists; bounded offset pages for search."""

import base64
import json
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, or_

from services.errors import UnprocessableEntity

__all__ = ["INT64_MAX", "INT64_MIN", "CursorPage", "Limit", "decode_cursor", "encode_cursor", "invalid_cursor",
           "keyset_page", "set_next_link"]

T = TypeVar("T")

# The widest integer both databases take (BIGINT; SQLite binds signed 64-bit and raises OverflowError past it):
# every integer a caller sends — query and path parameters, numbers inside cursors — is held to it, so a larger
# one is a 422 and not a 500 (security review item 8).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (at most 100; larger is a 422)")]


class CursorPage(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Opaque cursor of the next page; null on the last page")


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def invalid_cursor() -> UnprocessableEntity:
    return UnprocessableEntity("The cursor is not valid.", errors=[
        {"loc": ["query", "cursor"], "msg": "not a cursor issued by this API", "type": "invalid_cursor"}])


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_cursor() from exc
    if not isinstance(values, list) or len(values) != arity \
            or any(isinstance(v, int) and not INT64_MIN <= v <= INT64_MAX for v in values):
        raise invalid_cursor()
    return values


def _after(columns: list[tuple[ColumnElement[Any], bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order (col, descending) — an expanded row comparison that works
    on SQLite and PostgreSQL and mixes ascending and descending keys."""
    clauses = []
    for i, (col, desc) in enumerate(columns):
        equal_prefix = [c == v for (c, _), v in zip(columns[:i], values[:i], strict=True)]
        step = col < values[i] if desc else col > values[i]
        clauses.append(and_(*equal_prefix, step))
    return or_(*clauses)


def _typed(column: ColumnElement[Any], value: Any) -> Any:
    """Cursor values travel as JSON strings; give dates and timestamps back their type (asyncpg will not compare a
    date column with a string). A value that does not parse is an invalid cursor, not a 500."""
    type_ = getattr(column.type, "impl_instance", column.type)  # a TypeDecorator: the type it stores as
    try:
        python_type = type_.python_type
    except NotImplementedError:
        return value
    try:
        if issubclass(python_type, datetime):
            return datetime.fromisoformat(value)
        if issubclass(python_type, date):
            return date.fromisoformat(value)
        if not isinstance(value, python_type):
            raise TypeError
    except (TypeError, ValueError) as exc:
        raise invalid_cursor() from exc
    return value


async def keyset_page(session: Any, stmt: Select[Any], columns: list[tuple[ColumnElement[Any], bool]],
                      cursor: str | None, limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Run `stmt` ordered by `columns` after `cursor`; `key(row)` gives the row's values of those columns.
    The last column must be unique (an id) so the order is total."""
    if cursor:
        values = [_typed(col, value) for (col, _), value in zip(columns, decode_cursor(cursor, len(columns)),
                                                                strict=True)]
        stmt = stmt.where(_after(columns, values))
    stmt = stmt.order_by(*[c.desc() if d else c.asc() for c, d in columns]).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars().all())
    next_cursor = encode_cursor(key(rows[limit - 1])) if len(rows) > limit else None
    return rows[:limit], next_cursor


def set_next_link(request: Request, response: Response, next_cursor: str | None) -> None:
    if next_cursor:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
