"""`GET <prefix>/me` (我是谁): who the caller is and what their roles may do in this service.

Each service serves its own (`/api/v1/catalog/me`, `/api/v1/requests/me`, `/api/v1/stats/me`; the gateway forwards
them like every other route) because each service owns its access table (services/policy.py): the answer is read
from the very `Policy` that `enforce` applies to every request, never from a copy, so what `/me` says a role may
call is what the service then admits. The gateway does not merge them: it would have to hold the three tables
itself, and a front-end for one service needs that service's answer only.

What a role may do to *one* record (a workflow action in this record's state) is not here but on the record
(`actions`, services/policy.py `ActionRead`).
"""

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.auth import PrincipalDep
from services.policy import Policy, Role
from services.vocab import Term

__all__ = ["MeRead", "OperationRead", "make_me_router"]


class OperationRead(BaseModel):
    method: str
    path: str = Field(description="The route as in the OpenAPI document, e.g. /api/v1/catalog/documents/{document_id}")
    scope: str = Field(description="public · own · organ · global: whose records the service then lets you touch")
    public: bool = Field(description="open to everyone (no role needed)")


class MeRead(BaseModel):
    anonymous: bool
    sub: str | None = Field(description="the token's subject; null when anonymous")
    name: str | None
    roles: list[Term] = Field(description="the token's roles with their labels (unknown roles are left out)")
    organ: str | None = Field(description="organ_code of the organ the caller works for (token claim `organ`)")
    may: list[OperationRead] = Field(description="every operation of this service the caller's roles may call")


def make_me_router(prefix: str, policy: Policy, *, tag: str = "me") -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.get("/me", summary="Who am I (我是谁): principal, roles, organ and what the roles may call here",
                response_model=MeRead)
    async def get_me(request: Request, principal: PrincipalDep) -> MeRead:
        known = {r.value: r for r in Role}
        may: list[dict[str, Any]] = []
        for key in sorted(policy.table):
            if key in policy.hidden:
                continue
            method, _, path = key.partition(" ")
            rule = policy.table[key]
            if rule.allows(principal.roles, anonymous=principal.is_anonymous):
                may.append({"method": method, "path": path, "scope": rule.scope.value, "public": rule.roles is None})
        return MeRead(
            anonymous=principal.is_anonymous, sub=principal.sub or None, name=principal.name or None,
            roles=[Term(code=r.value, zh=r.zh, en=r.en) for r in sorted(
                (known[name] for name in principal.roles if name in known), key=lambda r: r.value)],
            organ=principal.organ, may=[OperationRead.model_validate(m) for m in may])

    return router
