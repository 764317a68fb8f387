"""Access policy of the request service (依申请公开权限表): one entry per endpoint (services/policy.py).

Handling staff (办理人员) are the intake clerk (登记受理), handler (承办) and reply approver (签发) of an organ; they
see their own organ's applications only (domain/applications.py). Applicants (申请人) reach their own applications
with tracking number + 查询码, or signed in (`applicant` role) through /applications/mine — never anyone else's.
The transition entries are generated from the handling table (domain/handling.py RULES), so an endpoint admits
exactly the roles its action admits.
"""

from request_service.domain.appeals import APPEAL_ROLES
from request_service.domain.applications import HANDLING_ROLES
from request_service.domain.consultations import READ_ROLES, RECORD_ROLES
from request_service.domain.handling import RULES
from request_service.domain.pii import UNMASK_ROLES
from services.policy import SHARED_ROUTES, Policy, Rule, Scope, allow, public

P = "/api/v1/requests"
HANDLING = tuple(sorted(HANDLING_ROLES))
APP = f"{P}/applications/{{application_id}}"

TABLE: dict[str, Rule] = {
    **SHARED_ROUTES,
    "GET /metrics": public("Prometheus scrape (counts of tracking look-ups; no records)."),
    f"GET {P}/vocabularies": public(),
    f"GET {P}/withholding-grounds": public(),
    f"GET {P}/me": public("Who the caller is and what their roles may call here (services/me.py)."),
    f"GET {P}/calendar/add-working-days": public(),
    f"GET {P}/calendar/years/{{year}}": public(),
    f"PUT {P}/calendar/years/{{year}}": allow("admin", scope=Scope.GLOBAL),
    f"GET {P}/fees/calculate": public(),
    f"POST {P}/applications": public("Online application (在线申请); a signed-in applicant's is linked to them."),
    f"POST {P}/track": public("Tracking number + 查询码; failures are counted and locked out."),
    f"POST {P}/track/letters": public("Tracking number + 查询码: the letters sent to the applicant (same limits)."),
    f"POST {P}/track/letters/{{letter_id}}": public("Tracking number + 查询码 (same limits)."),
    f"POST {P}/track/letters/{{letter_id}}.pdf": public("Tracking number + 查询码 (same limits)."),
    f"GET {P}/applications/mine": allow("applicant", scope=Scope.OWN),
    f"GET {P}/applications/mine/{{application_id}}/letters": allow("applicant", scope=Scope.OWN),
    f"GET {P}/applications/mine/{{application_id}}/letters/{{letter_id}}": allow("applicant", scope=Scope.OWN),
    f"GET {P}/applications/mine/{{application_id}}/letters/{{letter_id}}.pdf": allow("applicant", scope=Scope.OWN),
    f"POST {P}/applications/register": allow("intake_clerk"),
    f"GET {P}/applications": allow(*HANDLING),
    f"POST {P}/applications/lookup": allow(*HANDLING, note="By applicant identity (in the body); audited."),
    f"GET {P}/staff": allow(*HANDLING, note="The organ's handling staff as their tokens showed them."),
    f"GET {APP}": allow(*HANDLING),
    f"GET {APP}/deadline": allow(*HANDLING),
    f"GET {APP}/history": allow(*HANDLING),
    f"GET {APP}/third-party-consultations": allow(*HANDLING),
    f"GET {APP}/suggestions": allow(*HANDLING),
    f"GET {APP}/fee-preview": allow(*HANDLING),
    f"GET {APP}/letters": allow(*HANDLING),
    f"GET {APP}/letters/{{letter_id}}": allow(*HANDLING),
    f"GET {APP}/letters/{{letter_id}}.pdf": allow(*HANDLING),
    f"GET {APP}/applicant": allow(*HANDLING, note="Masked; unmasking (with a reason, audited) needs one of "
                                                  + ", ".join(sorted(UNMASK_ROLES)) + "."),
    f"GET {APP}/appeals": allow(*HANDLING),
    f"POST {APP}/appeals": allow(*sorted(APPEAL_ROLES)),
    f"GET {P}/appeals/{{appeal_id}}": allow(*HANDLING),
    f"PATCH {P}/appeals/{{appeal_id}}": allow(*sorted(APPEAL_ROLES)),
    f"GET {P}/applicants/monthly-counts": allow("handler", "reply_approver"),
    f"POST {P}/consultations": allow(*sorted(RECORD_ROLES)),
    f"GET {P}/consultations": allow(*sorted(READ_ROLES)),
    f"GET {P}/consultations/summary": allow(*sorted(READ_ROLES)),
    # 依申请转主动 (条例第四十四条): the organ's handling staff; the log carries no applicant data.
    f"GET {P}/worklists/proactive-disclosure": allow(*HANDLING),
    f"POST {P}/proactive-tasks/{{task_id}}/close": allow("handler", "reply_approver"),
    f"GET {P}/disclosure-log": allow(*HANDLING),
    f"GET {P}/proactive-disclosure/summary": allow(*HANDLING),
    # One endpoint per handling action, callable by exactly the roles the handling table names for it.
    **{f"POST {APP}/{action.replace('_', '-')}": allow(*sorted(rule.roles)) for action, rule in RULES.items()},
}

POLICY = Policy("request", TABLE, hidden={"GET /metrics"})
