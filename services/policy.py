"""The access policy (权限表): who may call each endpoint, as one table per service.

Every route of a service has exactly one entry, keyed `"METHOD /path/{template}"`. The table is enforced before
anything else runs on a request (an app-level dependency: 401 for anonymous callers of a non-public route, 403
for a role the entry does not name), published in the OpenAPI document (`x-gongkai-access` on every operation,
and one line in its description), and walked by tests with every principal (tests/test_policy.py). A route with
no entry is refused (fail closed) and fails the service's start-up check.

The entry says *which roles may call*; `scope` says *whose records* the service then lets them touch, which the
domain code enforces with the record in hand (visibility rules, organ checks) — the table cannot know a record's
organ before loading it. Finer rules (which workflow action a role may take) live in the workflow tables, and
the policy entries for those endpoints are generated from them so the two cannot drift.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from services.auth import Principal, PrincipalDep
from services.errors import Forbidden, Unauthorized, problem_responses
from services.vocab import LabeledEnum

__all__ = ["ALL_ROLES", "SHARED_ROUTES", "ActionRead", "Policy", "Role", "Rule", "Scope", "action_link", "allow",
           "body_needs", "public"]


class Role(LabeledEnum):
    """角色 · the roles a token can carry (architecture.md, identity and access)"""

    APPLICANT = ("applicant", "申请人", "Applicant (signed-in member of the public)")
    DRAFTER = ("drafter", "拟稿人", "Drafter")
    DIVISION_HEAD = ("division_head", "处室负责人", "Division head")
    UNIT_HEAD = ("unit_head", "单位主要负责人", "Head of the organ")
    SECRECY_OFFICER = ("secrecy_officer", "保密审查员", "Secrecy officer")
    INTAKE_CLERK = ("intake_clerk", "受理人员", "Intake clerk")
    HANDLER = ("handler", "承办人", "Handler")
    REPLY_APPROVER = ("reply_approver", "答复审核签发人", "Reply approver")
    STATS_OFFICER = ("stats_officer", "统计人员", "Statistics officer")
    AUDITOR = ("auditor", "审计人员", "Auditor")
    ADMIN = ("admin", "系统管理员", "Administrator")
    INTEGRATION = ("integration", "对接系统", "Integrating system")
    SERVICE = ("service", "平台服务", "Platform service")

# Every role a token can carry (architecture.md, auth). "applicant" is a signed-in member of the public;
# "integration" an organ's document system; "service" another Gongkai service.
ALL_ROLES = frozenset(role.value for role in Role)


class Scope(StrEnum):
    PUBLIC = "public"  # 公开: anyone, signed in or not; what is shown may still depend on who asks
    OWN = "own"  # the applicant's own applications only
    ORGAN = "organ"  # records of the caller's organ (reports: and its subordinates)
    GLOBAL = "global"  # not tied to an organ (admin directory and calendar, service feeds)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str] | None  # None: anyone, including anonymous callers
    scope: Scope
    note: str = ""

    def allows(self, roles: Iterable[str], *, anonymous: bool) -> bool:
        if self.roles is None:
            return True
        return not anonymous and not self.roles.isdisjoint(roles)

    def describe(self) -> str:
        who = "anyone (公开)" if self.roles is None else ", ".join(sorted(self.roles))
        text = f"Access (权限): {who}; scope: {self.scope.value}."
        return f"{text} {self.note}" if self.note else text


def public(note: str = "") -> Rule:
    return Rule(None, Scope.PUBLIC, note)


def allow(*roles: str, scope: Scope = Scope.ORGAN, note: str = "") -> Rule:
    unknown = set(roles) - ALL_ROLES
    if unknown or not roles:
        raise ValueError(f"unknown or missing roles in a policy entry: {sorted(unknown) or 'none'}")
    return Rule(frozenset(roles), scope, note)


# The routes every service gets from this library (services/health.py, services/outbox.py, services/audit.py).
SHARED_ROUTES: dict[str, Rule] = {
    "GET /healthz": public("Liveness probe."),
    "GET /readyz": public("Readiness probe."),
    "GET /internal/v1/events": allow("service", "admin", scope=Scope.GLOBAL, note="Other services' event feed."),
    "GET /internal/v1/audit": allow("auditor", "admin", scope=Scope.GLOBAL, note="The hash-chained audit log."),
    "GET /internal/v1/audit/verify": allow("auditor", "admin", scope=Scope.GLOBAL),
}


def route_keys(app: FastAPI) -> set[str]:
    """`METHOD path` of every operation in the app's OpenAPI document (routes hidden from it are declared to the
    Policy as `hidden`)."""
    return {f"{method.upper()} {path}" for path, operations in app.openapi().get("paths", {}).items()
            for method in operations if method.upper() in HTTP_METHODS}


HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH"})


class PolicyMissing(Forbidden):
    code = "policy_missing"


class RoleNotAllowed(Forbidden):
    code = "wrong_role"  # the same code as the domain's own role refusals: clients switch on one code


class Policy:
    """One service's table. `enforce` is the app-level dependency; `check` the start-up completeness check."""

    def __init__(self, service: str, table: Mapping[str, Rule], *, hidden: Iterable[str] = ()) -> None:
        self.service = service
        self.table = dict(table)
        self.hidden = frozenset(hidden)  # entries for routes kept out of the OpenAPI document (e.g. /metrics)

    def rule_for(self, method: str, path_format: str) -> Rule | None:
        return self.table.get(f"{method} {path_format}")

    async def enforce(self, request: Request, principal: PrincipalDep) -> None:
        route = request.scope.get("route")
        method = "GET" if request.method == "HEAD" else request.method
        rule = self.rule_for(method, getattr(route, "path_format", request.url.path))
        if rule is None:  # fail closed: an endpoint nobody wrote a rule for serves nobody
            raise PolicyMissing("This endpoint has no access rule.")
        if rule.allows(principal.roles, anonymous=principal.is_anonymous):
            request.state.principal = principal  # for the audit entry of a change (services/audit.py)
            return
        if principal.is_anonymous:
            raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
        raise RoleNotAllowed(f"This operation needs one of the roles: {', '.join(sorted(rule.roles or ()))}.")

    def check(self, app: FastAPI) -> None:
        """Every route has an entry and every entry names a route (a stale entry hides a renamed endpoint)."""
        keys = route_keys(app) | self.hidden
        missing, stale = sorted(keys - self.table.keys()), sorted(self.table.keys() - keys)
        if missing or stale:
            raise RuntimeError(f"{self.service} access policy out of step with its routes: "
                               f"no entry for {missing}; entries without a route {stale}")

    def annotate(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Publish each operation's rule in the OpenAPI document."""
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = self.rule_for(method.upper(), path)
                if rule is None or not isinstance(operation, dict):
                    continue
                operation["x-gongkai-access"] = {
                    "roles": None if rule.roles is None else sorted(rule.roles), "scope": rule.scope.value}
                description = operation.get("description") or ""
                if "Access (权限)" not in description:
                    operation["description"] = f"{description}\n\n{rule.describe()}".strip()
                if rule.roles is None:  # a token is optional here: `{}` is OpenAPI's "no credentials" alternative
                    security = operation.get("security")
                    if security and {} not in security:
                        operation["security"] = [{}, *security]
                else:  # what enforce() answers: 401 to anonymous callers, 403 to roles the entry does not name
                    responses = operation.setdefault("responses", {})
                    for status, entry in problem_responses(401, 403).items():
                        responses.setdefault(str(status), {"description": "Unauthorized" if status == 401
                                                           else "Forbidden", "content": entry["content"]})
        return schema


class ActionRead(BaseModel):
    """An action the caller may take next on a workflow record (下一步可执行的操作). Listed only when both the access
    table (the `Policy` entry of its endpoint) and the workflow's own guard (role, state, the record's
    preconditions) would let this caller do it now; a front-end shows exactly these buttons."""

    name: str = Field(description="the action, e.g. submit, approve_reply")
    method: str = Field(description="HTTP method of the call, e.g. POST")
    href: str = Field(description="absolute URL to call (on the configured public base URL)")
    needs: list[str] = Field(description="what the call must carry: `If-Match` (the record's ETag) and the "
                                         "required body fields as `body.<field>`")


def body_needs(body_model: type[BaseModel] | None) -> list[str]:
    """`If-Match` and the body fields the action's schema requires."""
    fields = [] if body_model is None else [name for name, info in body_model.model_fields.items()
                                            if info.is_required()]
    return ["If-Match", *(f"body.{name}" for name in fields)]


def action_link(policy: Policy, principal: Principal, *, name: str, path_template: str, path: str, base_url: str,
                body_model: type[BaseModel] | None = None, method: str = "POST") -> ActionRead | None:
    """The action as a link when the access table admits the caller to its endpoint (the same `Rule.allows`
    `Policy.enforce` applies); None otherwise. The caller has already asked the workflow's guard."""
    rule = policy.rule_for(method, path_template)
    if rule is None or not rule.allows(principal.roles, anonymous=principal.is_anonymous):
        return None
    return ActionRead(name=name, method=method, href=f"{base_url.rstrip('/')}{path}", needs=body_needs(body_model))
