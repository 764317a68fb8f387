"""Which problem `code`s each operation can answer, as an enum in the OpenAPI document (issue 14 item 8).

A generated client then types `code` as the union of what that operation answers (`"document_not_found" |
"validation_error" | …`), not as a string, so a portal that switches on a code which the operation never answers
fails to compile.

The codes are read from the code itself, not written down beside it (a list kept by hand goes stale):
- the domain's: every AppError subclass the endpoint, its dependencies (the access policy, the principal, paging,
  If-Match …) and the functions they call in the services' own packages construct or raise — read from their
  source (ast), following calls by name through module globals and closures, with `code="…"` where a call gives
  one (Unauthorized(…, code="token_expired"));
- the shared machinery's, by what the operation takes: 422 `validation_error` (parameters or a body), 400
  `bad_request` and 413 `payload_too_large` (a body), 500 `internal_error`, 503 `database_unavailable` /
  `service_busy` (services/errors.py install_error_handlers), and the gateway's own (gateway/openapi.py).

What it cannot follow — a method called on an object held in a variable (`session.get`, `verifier.verify`) — is
found when a test or the fuzzer meets it: tests/conftest.py checks every problem any test receives against the
operation's enum, and the schemathesis run (tests/test_fuzz.py) validates every answer against the document, enum
included. A code found here is one the code path can construct; the enum may list a code that needs a state a
caller rarely reaches, never one the service cannot answer.
"""

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from services.errors import ERROR_BODY_REF, PROBLEM_JSON, AppError

__all__ = ["codes_of", "document_problem_codes", "raised_by", "token_codes", "with_codes"]

PACKAGES = frozenset({"catalog_service", "request_service", "stats_service", "services"})

Codes = dict[int, set[str]]


def _ours(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".", 1)[0] in PACKAGES


def _app_error(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, AppError)


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> Any:
    """The object a Name or a dotted Attribute chain names in `namespace`, else None (locals are not followed)."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, namespace)
        if base is None or not (inspect.ismodule(base) or isinstance(base, type)):
            return None  # only modules and classes: an attribute of anything else may run code (a property)
        return inspect.getattr_static(base, node.attr, None) if isinstance(base, type) else getattr(
            base, node.attr, None)
    return None


def _keyword_code(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "code" and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
            return keyword.value.value
    return None


class _Crawler:
    def __init__(self) -> None:
        self.done: dict[Any, Codes] = {}
        self.running: set[Any] = set()

    def of(self, func: Any) -> Codes:
        func = inspect.unwrap(func)
        if isinstance(func, staticmethod | classmethod):
            func = func.__func__
        if inspect.ismethod(func):
            func = func.__func__
        if not inspect.isfunction(func) or not _ours(func):
            return {}
        if func in self.done:
            return self.done[func]
        if func in self.running:
            return {}  # recursion: what it raises is collected by the outer call
        self.running.add(func)
        try:
            codes = self._read(func)
        finally:
            self.running.discard(func)
        self.done[func] = codes
        return codes

    def _read(self, func: Callable[..., Any]) -> Codes:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        except (OSError, TypeError, SyntaxError):
            return {}
        closure = inspect.getclosurevars(func)
        namespace = {**func.__globals__, **closure.nonlocals}
        codes: Codes = {}
        for node in ast.walk(tree):
            target: ast.expr | None = None
            code: str | None = None
            if isinstance(node, ast.Call):
                target, code = node.func, _keyword_code(node)
            elif isinstance(node, ast.Raise) and node.exc is not None and not isinstance(node.exc, ast.Call):
                target = node.exc
            elif isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
                # A function passed or looked up rather than called here (a table of handlers, a callback).
                value = _resolve(node, namespace)
                for candidate in value.values() if isinstance(value, dict) else (
                        value if isinstance(value, list | tuple | frozenset) else (value,)):
                    if inspect.isfunction(candidate):
                        _update(codes, self.of(candidate))
                continue
            if target is None:
                continue
            obj = _resolve(target, namespace)
            if _app_error(obj):
                codes.setdefault(obj.status_code, set()).add(code or obj.code)
            elif isinstance(obj, type) and _ours(obj):
                for name in ("__init__", "__call__"):
                    member = obj.__dict__.get(name)
                    if member is not None:
                        _update(codes, self.of(member))
            elif obj is not None:
                _update(codes, self.of(obj))
        return codes


# Functions do not change while a process runs: one crawl serves every app built (tests build hundreds).
_CRAWLER = _Crawler()


def _update(codes: Codes, more: Codes) -> None:
    for status, names in more.items():
        codes.setdefault(status, set()).update(names)


def _dependency_calls(route: Any) -> Iterator[Any]:
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is not None:
            yield dependant.call
        pending.extend(dependant.dependencies)


def raised_by(*functions: Any) -> Codes:
    """The codes by status that these functions (and what they call by name) construct or raise."""
    codes: Codes = {}
    for function in functions:
        _update(codes, _CRAWLER.of(function))
    return codes


def token_codes() -> Codes:
    """What a sent token that is not accepted answers (401), at the gateway and in every service alike."""
    from services.auth import TokenVerifier, bearer_token

    return raised_by(TokenVerifier.verify_sync, bearer_token)


def _machinery_codes(operation: dict[str, Any]) -> Codes:
    """What the shared machinery answers for any operation that takes what this one takes."""
    # Every request's principal is resolved (the policy needs it), so a token that is sent is verified everywhere,
    # public operations included; the verifier is called on an object, which the crawl does not follow.
    codes: Codes = token_codes()
    codes.update({500: {"internal_error"}, 503: {"database_unavailable", "service_busy"}})
    if operation.get("parameters") or "requestBody" in operation:
        codes.setdefault(422, set()).add("validation_error")
    if "requestBody" in operation:
        codes.setdefault(400, set()).add("bad_request")
        codes.setdefault(413, set()).add("payload_too_large")
    access = operation.get("x-gongkai-access")
    if access is not None and access.get("roles") is not None:  # Policy.enforce: what the annotated rule refuses
        codes.setdefault(401, set()).add("authentication_required")
        codes.setdefault(403, set()).add("wrong_role")
    return codes


UNIVERSAL = {401: "Unauthorized: a token was sent and is not accepted",
             500: "Internal error (no internals in the body)",
             503: "Service unavailable: the database is away or busy (retry later)"}


def _is_policy(call: Any) -> bool:
    from services.policy import Policy

    return getattr(call, "__func__", None) is Policy.enforce


def with_codes(codes: list[str]) -> dict[str, Any]:
    """The problem+json content of a response whose `code` is one of `codes`."""
    return {PROBLEM_JSON: {"schema": {"allOf": [{"$ref": ERROR_BODY_REF}, {
        "type": "object", "required": ["code"], "properties": {"code": {"type": "string", "enum": codes}}}]}}}


def codes_of(response: dict[str, Any]) -> set[str] | None:
    """The enum of a problem response made by with_codes(), None for a plain ErrorBody."""
    schema = response.get("content", {}).get(PROBLEM_JSON, {}).get("schema", {})
    for part in schema.get("allOf", []):
        enum = part.get("properties", {}).get("code", {}).get("enum")
        if enum is not None:
            return set(enum)
    return None


def document_problem_codes(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Give every problem response of every operation its enum of codes (idempotent; after Policy.annotate).

    Only the statuses the route documents get an enum: the crawl finds errors a path constructs, not whether it
    raises them there (a guard that only reports a refusal; `require_if_match` behind `if if_match is not None`), so
    it never adds a status — which would also change what the document requires (an If-Match shown as required on a
    create). A documented status with no code found keeps the plain ErrorBody (`code` stays a string; a test keeps
    that list empty), never an invented enum.
    """
    crawler = _CRAWLER
    routes = {(route.path_format, method.lower()): route for route in iter_route_contexts(app.routes)
              if getattr(route, "dependant", None) is not None for method in route.methods or ()}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            route = routes.get((path, method))
            if route is None or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            domain: Codes = {}
            for call in _dependency_calls(route):
                if not _is_policy(call):  # its refusals follow the operation's rule, above
                    _update(domain, crawler.of(call))
            codes = _machinery_codes(operation)
            _update(codes, domain)
            if path.endswith("/readyz"):  # services/health.py answers a failing check with its own problem
                codes.setdefault(503, set()).add("not_ready")
            for status, description in UNIVERSAL.items():
                # What any operation may answer whatever its route says: a sent token that is not accepted (every
                # request's principal is resolved), an unexpected error, the database away or the pool exhausted.
                # Documented everywhere, so a generated client handles them and the suite's check holds them true.
                if str(status) not in responses and status in codes:
                    responses[str(status)] = {"description": description}
            for status in sorted(codes):
                response = responses.get(str(status))
                if response is not None:  # only statuses the route documents (the fuzzer checks those)
                    response["content"] = with_codes(sorted(codes[status]))
    return schema
