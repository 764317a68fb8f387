"""JSON request bodies read as their OpenAPI schema types say (found by tests/test_fuzz.py).

FastAPI validates a decoded JSON body in Pydantic's lax Python mode, which coerces values the published schema
rejects: `0` becomes the date 1970-01-01 (a Unix time), `false` the integer 0, `"5"` the integer 5, `"yes"` True.
A client that sends those has a bug the API should report (422), not guess at; and a schema that says
`"type": "string", "format": "date"` must be what the server enforces. `JsonTypes` is the mixin for the services'
input models: a before-validator that refuses, per declared field type, the JSON types the schema does not admit.
Strict mode is not an option here: in Python mode it would refuse the ISO date strings and enum strings that JSON
carries.
"""

import re
import types
from datetime import date, datetime, time
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from fastapi import Request
from pydantic import BaseModel, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from services.errors import UnprocessableEntity

__all__ = ["JsonTypes", "reject_unstorable_params"]

# NUL cannot be stored in (or even compared with) PostgreSQL text, and a lone surrogate cannot be encoded as UTF-8:
# either reached the database as a 500 (found by tests/test_fuzz.py on PostgreSQL). Refused as input instead.
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "NUL characters and unpaired surrogates cannot be stored"


def _unstorable(value: Any) -> bool:
    return isinstance(value, str) and UNSTORABLE.search(value) is not None


async def reject_unstorable_params(request: Request) -> None:
    """App-level dependency: a path or query parameter with NUL is a 422 before any handler reads it."""
    errors = [{"loc": [where, key], "msg": UNSTORABLE_MESSAGE, "type": "unstorable_text"}
              for where, params in (("path", request.path_params), ("query", request.query_params.multi_items()))
              for key, value in (params.items() if isinstance(params, dict) else params)
              if _unstorable(key) or _unstorable(value)]
    if errors:
        raise UnprocessableEntity("The request did not pass validation; see `errors`.", errors=errors)


_DATES = (date, datetime, time)


def _kind(annotation: Any) -> tuple[str, ...] | None:
    """The JSON types a field's annotation admits, when it is one we guard; None: leave it to Pydantic."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kind(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = [_kind(a) for a in get_args(annotation) if a is not type(None)]
        if any(k is None for k in kinds):
            return None
        return tuple(sorted({t for k in kinds for t in k or ()}))
    if origin is Literal:
        return None
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return ("boolean",)
        if issubclass(annotation, _DATES):
            return ("string",)
        if issubclass(annotation, Enum):
            return None
        if issubclass(annotation, int):
            return ("integer",)
        if issubclass(annotation, float):
            return ("integer", "number")
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"  # null, arrays, objects: Pydantic's own errors are right for those


class JsonTypes(BaseModel):
    """Mixin of the input models: each field refuses the JSON types its schema does not admit, and strings that
    nothing can store. A field-level check, so the error's `loc` names the field."""

    _guarded: ClassVar[dict[type, dict[str, tuple[bool, tuple[str, ...] | None]]]] = {}

    @classmethod
    def _guards(cls) -> dict[str, tuple[bool, tuple[str, ...] | None]]:
        """field name → (is a list, admitted JSON types or None when Pydantic's own checks are right)."""
        cached = JsonTypes._guarded.get(cls)
        if cached is None:
            cached = {}
            for name, field in cls.model_fields.items():
                annotation = field.annotation
                is_list = get_origin(annotation) in (list, tuple, set, frozenset) and bool(get_args(annotation))
                cached[name] = (is_list, _kind(get_args(annotation)[0] if is_list else annotation))
            JsonTypes._guarded[cls] = cached
        return cached

    @field_validator("*", mode="before")
    @classmethod
    def _json_types_only(cls, value: Any, info: ValidationInfo) -> Any:
        is_list, admitted = cls._guards().get(info.field_name or "", (False, None))
        if isinstance(value, str):  # most values: the same checks as below, without building a list for one item
            if _unstorable(value):
                raise PydanticCustomError("unstorable_text", UNSTORABLE_MESSAGE)
            if admitted is not None and "string" not in admitted:
                raise _wrong_type(admitted, "string")
            return value
        values = value if isinstance(value, list) else [value]
        for item in values:
            if _unstorable(item):
                raise PydanticCustomError("unstorable_text", UNSTORABLE_MESSAGE)
            found = _json_type(item)
            if admitted is not None and (is_list or item is value) and found != "other" and found not in admitted:
                raise _wrong_type(admitted, found)
        return value


def _wrong_type(admitted: tuple[str, ...], found: str) -> PydanticCustomError:
    return PydanticCustomError("json_type", "expected {expected}, got a JSON {found}",
                               {"expected": " or ".join(admitted), "found": found})
