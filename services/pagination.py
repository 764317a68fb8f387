"""One pagination contract for every list of every service (分页约定).

Request: `limit` (page size, bounded; too large is a 422) and `after` (the `next_cursor` of the previous page,
omitted for the first page). Any other paging parameter a client library may send (`cursor`, `offset`, `page`,
`page_size` …) is a 422 `unknown_paging_parameter`, never silently ignored: a "load more" button that sends the
wrong name would otherwise loop on page 1.

Response: the envelope `Page[T]` — `items`, `next_cursor` (opaque string), `has_more`, and `total` where an exact
count is cheap (null otherwise) — and, when `has_more`, an RFC 8288 `Link: <…>; rel="next"` header whose target
is this request with `after` set. A finite list ends with `has_more: false` and `next_cursor: null`; a feed
(change feed, event feed) never ends, so its `next_cursor` is always set for the reader to store and resume from.
"""

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, or_

from services.errors import UnprocessableEntity

__all__ = ["INT64_MAX", "INT64_MIN", "FOREIGN_PAGING_PARAMETERS", "Limit", "Page", "PageParams", "decode_cursor",
           "encode_cursor", "int_cursor", "invalid_cursor", "keyset_page", "page_of", "page_params", "paged",
           "reject_foreign_paging", "set_next_link", "ShortListPaging", "slice_page", "UnknownPagingParameter"]

T = TypeVar("T")

# The widest integer both databases take (BIGINT; SQLite binds signed 64-bit and raises OverflowError past it):
# every integer a caller sends — query and path parameters, numbers inside cursors — is held to it, so a larger
# one is a 422 and not a 500 (security review item 8).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (at most 100; larger is a 422)")]


# Names other APIs and client libraries use for paging. On a Gongkai list each of them is a 422: the one name is
# `after` (architecture.md, style.md §7.6), and the one size is `limit`.
FOREIGN_PAGING_PARAMETERS = frozenset({
    "cursor", "next_cursor", "next", "before", "offset", "skip", "page", "page_no", "page_number",
    "page_size", "pagesize", "per_page", "size", "page_token", "continuation_token", "marker"})

AFTER_DESCRIPTION = "The `next_cursor` of the previous page (opaque); omit for the first page"


class Page(BaseModel, Generic[T]):
    """The envelope of every list (列表分页信封)."""

    items: list[T]
    next_cursor: str | None = Field(None, description="Opaque; pass as `after` for the next page. Null at the end "
                                                      "of a finite list; always set on a feed, to resume from")
    has_more: bool = Field(False, description="Another page exists now (the `Link: rel=\"next\"` header is sent)")
    total: int | None = Field(None, description="Exact number of items in the whole list, where it is cheap to "
                                                "count; null otherwise")


class UnknownPagingParameter(UnprocessableEntity):
    code = "unknown_paging_parameter"


@dataclass(frozen=True)
class PageParams:
    after: str | None
    limit: int


def reject_foreign_paging(request: Request, allowed: Sequence[str] = ()) -> None:
    """A 422 for a paging parameter this list does not take (`cursor`, `offset`, `page` …)."""
    foreign = sorted(name for name in request.query_params
                     if name.lower() in FOREIGN_PAGING_PARAMETERS and name not in allowed)
    if foreign:
        raise UnknownPagingParameter(
            f"Unknown paging parameter(s) {', '.join(foreign)}: lists page with `after` (the previous page's "
            "`next_cursor`) and `limit`. 未知的分页参数：请使用 after（上一页的 next_cursor）和 limit。",
            errors=[{"loc": ["query", name], "msg": "未知的分页参数 · unknown paging parameter; use after and limit",
                     "type": "unknown_paging_parameter"} for name in foreign])


def page_params(default_limit: int = 50, max_limit: int = 100, *,
                also: Sequence[str] = ()) -> Callable[..., PageParams]:
    """The paging dependency of a list: `after` and `limit` (1..max_limit, larger is a 422), foreign names
    refused. `also` names extra paging parameters one list documents (search keeps `offset` for numbered pages)."""

    def dependency(
        request: Request,
        after: Annotated[str | None, Query(max_length=512, description=AFTER_DESCRIPTION)] = None,
        limit: Annotated[int, Query(ge=1, le=max_limit,
                                    description=f"Page size (at most {max_limit}; larger is a 422)")] = default_limit,
    ) -> PageParams:
        reject_foreign_paging(request, also)
        return PageParams(after or None, limit)

    return dependency


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# The paging of a short list held in memory (an application's letters, a record's review log): the same parameters,
# with a page large enough that a front-end rarely needs a second one.
ShortListPaging = Annotated[PageParams, Depends(page_params(100, 500))]


def invalid_cursor() -> UnprocessableEntity:
    return UnprocessableEntity("The cursor is not valid. 分页游标无效。", errors=[
        {"loc": ["query", "after"], "msg": "不是本接口签发的游标 · not a cursor issued by this API",
         "type": "invalid_cursor"}])


def int_cursor(after: str | None) -> int:
    """A feed's numeric cursor (0 = from the start); anything else is an invalid cursor."""
    if after is None:
        return 0
    if not after.isascii() or not after.isdigit() or int(after) > INT64_MAX:
        raise invalid_cursor()
    return int(after)


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


def slice_page(items: Sequence[T], after: str | None, limit: int,
               key: Callable[[T], Any]) -> tuple[list[T], str | None]:
    """Keyset paging of a short list already in memory and in order (an application's letters, a record's review
    log, the organ directory): the cursor is the key of the last item shown, so an item added at the end never
    shifts what the reader has seen. `key(item)` must be unique within the list."""
    start = 0
    if after is not None:
        wanted = decode_cursor(after, 1)[0]
        keys = [str(key(item)) for item in items]
        if wanted not in keys:
            raise invalid_cursor()
        start = keys.index(wanted) + 1
    chunk = list(items[start:start + limit])
    more = start + limit < len(items)
    return chunk, encode_cursor([str(key(chunk[-1]))]) if more and chunk else None


def page_of(request: Request, response: Response, items: Sequence[T], params: PageParams,
            key: Callable[[T], Any], **extra: Any) -> dict[str, Any]:
    """The envelope of a short in-memory list, with its exact total (and `extra` fields of that list)."""
    chunk, next_cursor = slice_page(items, params.after, params.limit, key)
    return paged(request, response, chunk, next_cursor, total=len(items), **extra)


def paged(request: Request, response: Response, items: Sequence[Any], next_cursor: str | None, *,
          has_more: bool | None = None, total: int | None = None, **extra: Any) -> dict[str, Any]:
    """The envelope and its `Link` header. `has_more` defaults to "a next cursor was issued" (finite lists);
    feeds pass it, since their cursor is always set."""
    more = next_cursor is not None if has_more is None else has_more
    if more and next_cursor is not None:
        set_next_link(request, response, next_cursor)
    return {"items": list(items), "next_cursor": next_cursor, "has_more": more, "total": total, **extra}


def set_next_link(request: Request, response: Response, next_cursor: str) -> None:
    """RFC 8288 `Link: <…>; rel="next"`: this request with `after` set (a relative reference, resolved against the
    request's own URL, so it never depends on the Host header)."""
    params, replaced = [], False
    for name, value in request.query_params.multi_items():  # the request's own order, `after` replaced in place
        if name == "after":
            if not replaced:
                params.append((name, next_cursor))
            replaced = True
        else:
            params.append((name, value))
    if not replaced:
        params.append(("after", next_cursor))
    link = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
    existing = response.headers.get("Link")
    response.headers["Link"] = f"{existing}, {link}" if existing else link
