"""Checks shared by the `/me` and allowed-actions tests of the catalogue and the request service (issue 14 item 4).

`check_me`: what `GET <prefix>/me` says a principal may call is exactly what the access policy admits — every
operation listed is not refused for its role, every other one is (403 wrong_role, or 401 when anonymous).

`check_actions`: walk a record along a path of workflow steps; at every step and for every principal, each action
the record lists for them is not refused (403/409) when called — on a fresh record brought to the same step, since
the call changes it — and each action not listed is refused (403/409), with a body the schema accepts, so nothing
but the guard can be what refuses it (actions the access policy refuses the principal's roles outright are
check_me's business, and skipped here to keep the walk short).
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.policy import Policy

REFUSED = (403, 409)
Headers = dict[str, str]


def _concrete(path: str) -> str:
    """A template path with every parameter a random id (a record that does not exist: the policy answers first)."""
    out = []
    for part in path.split("/"):
        if part.startswith("{"):
            suffix = part[part.index("}") + 1:]
            out.append(f"{uuid.uuid4()}{suffix}")
        else:
            out.append(part)
    return "/".join(out)


async def check_me(client: httpx.AsyncClient, prefix: str, policy: Policy, headers: Headers,
                   anonymous: bool = False) -> dict[str, Any]:
    r = await client.get(f"{prefix}/me", headers=headers)
    assert r.status_code == 200, r.text
    me = r.json()
    may = {f"{op['method']} {op['path']}" for op in me["may"]}
    for key in sorted(set(policy.table) - set(policy.hidden)):
        method, _, path = key.partition(" ")
        if "{" not in path and method == "POST" and key in may:
            continue  # a real create at a fixed path: calling it would do it (the role rule is checked below)
        call = await client.request(method, _concrete(path), headers=headers, json={} if method != "GET" else None)
        refused_for_role = call.status_code in (401, 403) and call.json().get("code") in (
            "wrong_role", "authentication_required")
        if key in may:
            assert not refused_for_role, (key, call.text)
        else:
            assert refused_for_role, (key, call.status_code, call.text)
            assert call.status_code == (401 if anonymous else 403), (key, call.text)
    return me


Step = tuple[str, Headers]  # an action of the path, and who takes it
Body = Callable[[str, str], Awaitable[dict[str, Any]]]  # (action, record id) → a body its schema accepts


async def check_actions(client: httpx.AsyncClient, *, record_url: Callable[[str], str],
                        action_url: Callable[[str, str], str], reader: Headers, path: list[Step],
                        principals: dict[str, tuple[Headers, frozenset[str]]], body: Body,
                        actions: dict[str, frozenset[str]],
                        new_record: Callable[[], Awaitable[str]]) -> dict[tuple[int, str], list[str]]:
    """`principals`: name → (headers, roles); `actions`: name → the roles its endpoint's policy entry admits.
    Returns what was listed, by (step, principal), for the caller's own assertions."""

    async def take(record_id: str, name: str, headers: Headers) -> httpx.Response:
        etag = (await client.get(record_url(record_id), headers=reader)).headers["etag"]
        return await client.post(action_url(record_id, name), json=await body(name, record_id),
                                 headers={**headers, "If-Match": etag})

    async def at_step(n: int) -> str:
        record_id = await new_record()
        for name, headers in path[:n]:
            r = await take(record_id, name, headers)
            assert r.status_code == 200, (name, r.text)
        return record_id

    seen: dict[tuple[int, str], list[str]] = {}
    record_id = await at_step(0)
    for n in range(len(path) + 1):
        for who, (headers, roles) in principals.items():
            r = await client.get(record_url(record_id), headers=headers)
            assert r.status_code == 200, r.text
            listed = {a["name"]: a for a in r.json()["actions"]}
            seen[(n, who)] = list(listed)
            for name, action in listed.items():
                assert action["method"] == "POST" and "If-Match" in action["needs"], action
                assert action["href"].startswith("http"), action  # absolute, on the public base URL
                assert urlsplit(action["href"]).path == action_url(record_id, name), action
            for name in actions:
                if name in listed:  # called on a fresh record at this step: the call changes it
                    call = await take(await at_step(n), name, headers)
                    assert call.status_code not in REFUSED, (n, who, name, call.text)
                elif not roles.isdisjoint(actions[name]):  # (a role the policy refuses: check_me's business)
                    call = await take(record_id, name, headers)
                    assert call.status_code in REFUSED, (n, who, name, call.status_code, call.text)
        if n < len(path):
            name, headers = path[n]
            r = await take(record_id, name, headers)
            assert r.status_code == 200, (n, name, r.text)
    return seen
