"""Access policy of the catalogue (目录服务权限表): one entry per endpoint (services/policy.py).

Catalogue staff (目录工作人员) are the drafter (拟稿人), division head (处室负责人), unit head (单位主要负责人) and
secrecy officer (保密审查员) of an organ; what each may do to a record is the workflow table's business
(domain/workflow.py TRANSITIONS, from which the transition entries below are generated), and which records they
see is domain/visibility.py's. Public reads are open to everyone and show only published, unclassified records.
"""

from catalog_service.domain.attachments import IMPORTER_ROLE, UPLOADER_ROLES
from catalog_service.domain.visibility import CATALOG_STAFF_ROLES
from catalog_service.domain.workflow import TRANSITIONS
from services.policy import SHARED_ROUTES, Policy, Rule, Scope, allow, public

P = "/api/v1/catalog"
STAFF = tuple(sorted(CATALOG_STAFF_ROLES))

TABLE: dict[str, Rule] = {
    **SHARED_ROUTES,
    "GET /metrics": public("Prometheus scrape (the search index's lag; no records)."),
    f"GET {P}/vocabularies": public(),
    f"GET {P}/me": public("Who the caller is and what their roles may call here (services/me.py)."),
    f"GET {P}/organs": public(),
    f"GET {P}/organs/{{code}}": public(),
    f"POST {P}/organs": allow("admin", scope=Scope.GLOBAL),
    f"PATCH {P}/organs/{{code}}": allow("admin", scope=Scope.GLOBAL),
    # 检索词典: the synonym entries search applies (admin-managed; every change audited).
    f"GET {P}/search/synonyms": allow("admin", scope=Scope.GLOBAL),
    f"POST {P}/search/synonyms": allow("admin", scope=Scope.GLOBAL),
    f"GET {P}/search/synonyms/{{synonym_id}}": allow("admin", scope=Scope.GLOBAL),
    f"PATCH {P}/search/synonyms/{{synonym_id}}": allow("admin", scope=Scope.GLOBAL),
    f"DELETE {P}/search/synonyms/{{synonym_id}}": allow("admin", scope=Scope.GLOBAL),
    # 检索索引运维: status, catch-up, reconciliation and rebuild of the process's search index (operators).
    f"GET {P}/search/index": allow("admin", scope=Scope.GLOBAL),
    f"POST {P}/search/index/catch-up": allow("admin", scope=Scope.GLOBAL),
    f"GET {P}/search/index/reconciliation": allow("admin", scope=Scope.GLOBAL),
    f"POST {P}/search/index/rebuild": allow("admin", scope=Scope.GLOBAL),
    f"GET {P}/documents": public("Staff also find their own organ's unpublished records."),
    f"GET {P}/documents/{{document_id}}": public("Published, unclassified records only."),
    f"GET {P}/documents/{{document_id}}/attachments/{{attachment_id}}":
        public("Public: attachments of public records that are not withheld; staff: their organ's."),
    f"GET {P}/changes": public("Published records and tombstones."),
    f"GET {P}/feeds/atom.xml": public(),
    # 可验证的同步: the public catalogue in one consistent stream, and per-organ digests of it.
    f"GET {P}/snapshot": public("Published records only, as the change feed serves them."),
    f"GET {P}/snapshot/digest": public("Hashes of published records and their count."),
    # 交换格式: the public records in the DCAT JSON-LD and 集约化 profiles; schemas and the validator hold no data.
    f"GET {P}/export": public("Published records only, as GET /documents/{id} serves them."),
    f"GET {P}/documents/{{document_id}}/export": public("Published, unclassified records only."),
    f"GET {P}/export/schema": public(),
    f"POST {P}/export/validate": public("Checks the posted records only; reads and writes nothing."),
    f"POST {P}/documents": allow("drafter"),
    f"POST {P}/documents/bulk": allow("integration", note="The organ's own document system (批量导入)."),
    f"GET {P}/documents/{{document_id}}/record": allow(*STAFF),
    f"PATCH {P}/documents/{{document_id}}": allow(*STAFF),
    f"GET {P}/documents/{{document_id}}/review-log": allow(*STAFF),
    f"POST {P}/documents/{{document_id}}/redactions": allow(*STAFF),
    f"DELETE {P}/documents/{{document_id}}/redactions/{{redaction_id}}": allow(*STAFF),
    # 附件: the organ's document system (integration) attaches to the drafts it imported itself (domain/attachments.py
    # decides which records: its organ's, its source system's), so an imported record is published with its files.
    f"GET {P}/documents/{{document_id}}/attachments": allow(*STAFF, IMPORTER_ROLE),
    f"POST {P}/documents/{{document_id}}/attachments": allow(*sorted(UPLOADER_ROLES), IMPORTER_ROLE),
    f"DELETE {P}/documents/{{document_id}}/attachments/{{attachment_id}}": allow(*sorted(UPLOADER_ROLES)),
    f"GET {P}/worklists/publication": allow(*STAFF),
    f"GET {P}/worklists/reevaluation": allow(*STAFF),
    # 公开目录栏目 (issue 16): the catalogue's structure is public; admins manage it.
    f"GET {P}/columns": public(),
    # 基层政务公开标准目录 (issue 16 item 4): reference data and coverage public; import/adopt admin; mapping staff.
    f"GET {P}/standard-catalogues": public(),
    f"GET {P}/standard-catalogues/{{catalogue_id}}": public(),
    f"POST {P}/standard-catalogues": allow("admin", scope=Scope.GLOBAL),
    f"GET {P}/standard-adoptions": public(),
    f"GET {P}/standard-adoptions/{{adoption_id}}": public(),
    f"POST {P}/standard-adoptions": allow("admin", scope=Scope.GLOBAL),
    f"POST {P}/standard-adoptions/{{adoption_id}}/mappings": allow("drafter", "division_head", "unit_head"),
    f"GET {P}/standard-coverage/{{organ_code}}": public("Public records only."),
    f"GET {P}/columns/{{column_id}}": public(),
    f"POST {P}/columns": allow("admin", scope=Scope.GLOBAL),
    f"PATCH {P}/columns/{{column_id}}": allow("admin", scope=Scope.GLOBAL),
    f"GET {P}/worklists/interpretation": allow(*STAFF),
    f"GET {P}/worklists/interpretation/summary": allow(*STAFF),
    # 有效期 (issue 16 item 3): the organ's validity reviews and its records in force on a day.
    f"GET {P}/worklists/validity-review": allow(*STAFF),
    f"GET {P}/registers/in-force": allow(*STAFF),
    # 推送订阅: an integration client's own subscriptions (another client's are 404), within its organ's subtree.
    **{f"{method} {P}/webhooks/subscriptions{path}": allow("integration", note="Own subscriptions only.")
       for method, path in (("GET", ""), ("POST", ""), ("GET", "/{subscription_id}"),
                            ("PATCH", "/{subscription_id}"), ("DELETE", "/{subscription_id}"),
                            ("POST", "/{subscription_id}/rotate-secret"), ("POST", "/{subscription_id}/replay"),
                            ("GET", "/{subscription_id}/deliveries"),
                            ("GET", "/{subscription_id}/deliveries/{delivery_id}"),
                            ("POST", "/{subscription_id}/deliveries/{delivery_id}/retry"))},
    # One endpoint per workflow action, callable by exactly the roles the workflow table names for it.
    **{f"POST {P}/documents/{{document_id}}/{action.replace('_', '-')}": allow(*sorted(rule.roles))
       for action, rule in TRANSITIONS.items()},
}

POLICY = Policy("catalog", TABLE, hidden={"GET /metrics"})
