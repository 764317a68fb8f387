"""Access policy of the statistics service (统计服务权限表): one entry per endpoint (services/policy.py).

Published annual reports (年度报告) are public, in every format. Drafts, drill-downs, sign-off and dashboards are
for statistics staff (stats_officer 统计人员, auditor 审计) of the organ or a superior organ, the unit head
(单位主要负责人) who signs off, and admins; domain/access.py checks the organ scope with the organ in hand.
"""

from services.policy import SHARED_ROUTES, Policy, Rule, allow, public
from stats_service.domain.access import READERS

P = "/api/v1/stats"
R = f"{P}/annual-reports/{{organ_code}}/{{year}}"
READ = tuple(sorted(READERS))
DASHBOARD = tuple(sorted(READERS | {"unit_head"}))

TABLE: dict[str, Rule] = {
    **SHARED_ROUTES,
    "GET /metrics": public("Prometheus scrape (consumer lag; no records)."),
    f"GET {P}/vocabularies": public(),
    f"GET {P}/me": public("Who the caller is and what their roles may call here (services/me.py)."),
    f"GET {P}/annual-reports/layout": public("The official tables' row and column labels; no figures."),
    f"GET {R}": public("Published reports for everyone; live drafts for the organ's statistics staff."),
    f"GET {R}/export.csv": public("As the report itself."),
    f"GET {R}/export.xlsx": public("As the report itself."),
    f"GET {R}/export.html": public("As the report itself."),
    f"GET {R}/cells/{{row}}/{{column}}": allow(*READ),
    f"PUT {R}/figures": allow("stats_officer", "integration", "admin",
                              note="Section 二 figures pushed by agency systems or entered by staff."),
    f"POST {R}/submit": allow("stats_officer"),
    f"POST {R}/publish": allow("unit_head", "admin"),
    f"POST {R}/reopen": allow("unit_head", "admin"),
    f"GET {R}/status": allow(*DASHBOARD),
    f"GET {R}/discrepancies": allow(*DASHBOARD),
    f"GET {P}/annual-reports/reminders": allow(*DASHBOARD),
    f"GET {P}/dashboards/{{organ_code}}/timeseries": allow(*DASHBOARD),
    f"GET {P}/dashboards/{{organ_code}}/breakdown": allow(*DASHBOARD),
    f"GET {P}/dashboards/{{organ_code}}/overdue": allow(*DASHBOARD),
    f"GET {P}/dashboards/{{organ_code}}/publication-timeliness": allow(*DASHBOARD),
    f"GET {P}/dashboards/{{organ_code}}/breaches": allow(*DASHBOARD),
    f"GET {P}/dashboards/{{organ_code}}/breaches/applications": allow(*DASHBOARD),
    # 考评 scorecards (issue 16): as the dashboards; sheets are loaded by admins.
    f"GET {P}/scorecards/{{organ_code}}": allow(*DASHBOARD),
    f"GET {P}/scorecards/{{organ_code}}/metrics/{{metric}}/records": allow(*DASHBOARD),
    f"GET {P}/scorecards/{{organ_code}}/ranking": allow(*DASHBOARD),
    f"GET {P}/scorecards/{{organ_code}}/series": allow(*DASHBOARD),
    f"GET {P}/scorecards/{{organ_code}}/reminders": allow(*DASHBOARD),
    f"GET {P}/scorecards/{{organ_code}}/export.xlsx": allow(*DASHBOARD),
    f"GET {P}/scorecards/{{organ_code}}/export.html": allow(*DASHBOARD),
    f"GET {P}/scorecard-sheets": allow(*DASHBOARD),
    f"GET {P}/scorecard-sheets/{{sheet_id}}": allow(*DASHBOARD),
    f"POST {P}/scorecard-sheets": allow("admin"),
}

POLICY = Policy("stats", TABLE, hidden={"GET /metrics"})
