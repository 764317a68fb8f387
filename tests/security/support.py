"""Shared helpers of the security proofs (tests/security): comparing two answers for "indistinguishable", and
scanning responses for planted strings."""

import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Headers that legitimately differ between two identical requests.
VOLATILE_HEADERS = frozenset({"x-request-id", "date"})


def _substitute(text: str, substitutions: Mapping[str, str]) -> str:
    for value, placeholder in substitutions.items():
        if value:
            text = text.replace(value, placeholder)
    return text


def answer(response: httpx.Response, substitutions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What a caller can observe of a response, with the values the caller itself put in the request (ids,
    tracking numbers) replaced by placeholders and the per-request id removed: two answers are indistinguishable
    exactly when these are equal."""
    subs = dict(substitutions or {})
    body: Any
    if response.headers.get("content-type", "").split(";")[0].endswith("json"):
        data = response.json()
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k != "request_id"}
        body = _substitute(repr(data), subs)
    else:
        body = _substitute(response.text, subs)
    headers = {}
    for name, value in response.headers.items():
        if name in VOLATILE_HEADERS:
            continue
        if name == "retry-after":  # seconds left on a lock: the two locks were set a few milliseconds apart
            value = "<n>" if value.isdigit() and int(value) > 0 else value
        elif name == "content-length":
            continue  # compared through the body (request ids are of equal length, substituted values are not)
        headers[name] = _substitute(value, subs)
    return {"status": response.status_code, "body": body, "headers": headers}


def assert_indistinguishable(real: httpx.Response, twin: httpx.Response, real_subs: Mapping[str, str],
                             twin_subs: Mapping[str, str], context: Any) -> None:
    a, b = answer(real, real_subs), answer(twin, twin_subs)
    assert a == b, (context, a, b)


def searchable_texts(response: httpx.Response) -> list[str]:
    """The response as text to scan: headers and body, with ZIP containers (XLSX) opened; lower case, so that a
    case-folded copy of a planted string is found too."""
    parts = [f"{k}: {v}" for k, v in response.headers.items()]
    raw = response.content
    if raw[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                parts += [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
        except zipfile.BadZipFile:
            parts.append(raw.decode("utf-8", "replace"))
    else:
        parts.append(raw.decode("utf-8", "replace"))
    return [p.lower() for p in parts]


def hits(response: httpx.Response, planted: Iterable[str], *, echoed: Iterable[str] = ()) -> list[str]:
    """The planted strings found anywhere in the response. `echoed`: values the request itself carried (a
    canary used as the query, an id in the path), removed first — an echo of the caller's own input is not a
    leak (and error bodies here never echo input anyway)."""
    texts = searchable_texts(response)
    for value in echoed:
        texts = [t.replace(value.lower(), "") for t in texts]
    return [p for p in planted if any(p.lower() in t for t in texts)]
