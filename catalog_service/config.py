from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings, absolute_http_url, default_sqlite_url

DEV_FEED_CURSOR_KEY = "gongkai-development-feed-cursor-key"


class Settings(ServiceSettings):
    """Catalogue settings (env prefix CATALOG_)."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", populate_by_name=True)

    index_no_template: str = "{organ_code}/{year}-{serial:05d}"
    # 解读 duty (issue 16): a 行政规范性文件 or a record flagged major policy is due its 解读 within this many working
    # days of its publication (0: the same day). Set it to the province's rule; many require 同步 or 3 working days.
    interpretation_due_working_days: int = Field(3, ge=0, le=60)
    # 有效期 of 规范性文件 (issue 16; 国办发〔2018〕37号: 一般为5年，暂行、试行的一般为2年): years per 体裁
    # when the drafter gives no explicit 有效期至 (JSON: CATALOG_VALIDITY_YEARS='{"normative_document": 5}');
    # a title saying 试行 or 暂行 takes validity_trial_years; the review reminder opens validity_review_months
    # before the end.
    validity_years: dict[str, int] = Field(default_factory=lambda: {"normative_document": 5})
    validity_trial_years: int = Field(2, ge=1, le=50)
    validity_review_months: int = Field(6, ge=0, le=60)
    # Key of the public change feed's cursors (domain/feed_cursor.py): they hide the internal event ids, whose gaps
    # would count non-public activity. Changing it invalidates harvesters' stored cursors (they resume from 0).
    feed_cursor_key: SecretStr = SecretStr(DEV_FEED_CURSOR_KEY)
    attachment_dir: str = "data/attachments"
    # 附件存储 (domain/blobs.py): filesystem (under attachment_dir; the embedded default — several instances need it
    # on a shared volume) or database (the attachment_blob table: every instance serves every file, and the
    # database backup holds them). attachment_dir is then only the scratch space of uploads.
    attachment_store: Literal["filesystem", "database"] = "filesystem"
    max_attachment_bytes: int = 20 * 1024 * 1024
    scheduler_interval_seconds: float = 30.0  # 定时发布 check; 0 disables the job
    # 附件无法打开 (domain/attachment_checks.py): every interval, the `batch` attachments of public records checked
    # longest ago are re-read and hashed; 0 disables the check.
    attachment_check_interval_seconds: float = Field(300.0, ge=0)
    attachment_check_batch: int = Field(500, ge=1, le=100_000)
    max_bulk_body_bytes: int = 10 * 1024 * 1024  # one bulk-import call (≤ 1,000 records), as the gateway; → 413
    # One document (POST /documents, PATCH /documents/{id}): its schema admits a 500,000-character body, ~3 MB as
    # ASCII-escaped JSON of Chinese text; the general 1 MiB limit refused valid documents (tests/security/
    # test_limits.py).
    max_document_body_bytes: int = 4 * 1024 * 1024
    # The request service (reached over HTTP only) owns the working-day calendar: the "request-calendar" consumer
    # follows its event feed for calendar.year_loaded (domain/calendar_feed.py), and "request-applications" relays
    # application status changes to the webhooks (domain/application_feed.py). Off: the package calendar only, and
    # no application status webhooks.
    request_url: str = "http://127.0.0.1:8102"
    request_connect_timeout_seconds: float = 1.0
    request_timeout_seconds: float = 10.0
    calendar_feed_enabled: bool = True
    calendar_feed_interval_seconds: float = 10.0  # idle wait between polls once caught up
    # 可验证的同步 (domain/snapshot.py): records read per keyset batch of a snapshot or digest; memory is per batch.
    snapshot_batch_size: int = Field(2000, ge=1, le=10_000)
    calendar_feed_batch_size: int = 500  # the feed carries every request-service event; most are skipped
    # 检索索引 (domain/indexer.py): this process's search index. Unset: in memory, built from the database at start
    # (the embedded default; fine for tens of thousands of records). Production: a directory per instance.
    search_index_dir: str | None = None
    search_index_interval_seconds: float = 0.5  # background catch-up; freshness of search after a commit
    # Processes folding and cutting records into tokens for the indexer (its CPU; one Python process follows at
    # most ~800 records/s). 1: in the indexer itself — right on 2 cores, where the web processes need the other.
    search_index_processes: int = Field(1, ge=1, le=64)
    # Search first applies pending changes itself when at most this many are pending (read-your-writes for a
    # clerk); more (a bulk import) are left to the background indexer so no search waits for them. 0: never.
    search_catch_up_on_read: int = 50
    search_index_max_lag_seconds: float = 60.0  # readiness: an index lagging more is not ready
    # Bulk import's back-pressure (批量导入): a batch is written only once no change has waited for the search index
    # longer than this (seconds), so an import never runs ahead of search freshness (its target: 5 s); it waits for
    # the indexer up to `bulk_index_wait_seconds`, and not at all while the indexer makes no progress. 0: off.
    bulk_max_index_lag_seconds: float = Field(2.0, ge=0)
    bulk_index_wait_seconds: float = Field(30.0, ge=0)
    # Threads running the engine's part of searches (检索线程池; tantivy releases the GIL). Searches beyond them queue
    # in arrival order instead of sharing the cores — a long search is then not stretched by every short one beside
    # it (Elasticsearch's fixed `search` pool does the same). Unset: the cores this process may run on.
    search_threads: int | None = Field(None, ge=1, le=256)
    # Facets are exact up to this many matches, estimated from a uniform sample of about as many beyond it
    # (domain/search.py). The documented contract is 10,000; tests lower it to reach the estimate cheaply.
    search_facet_cap: int = Field(10_000, ge=1)

    # Webhook subscriptions (domain/webhooks.py): the dispatcher fans the outbox out to subscriptions and sends
    # deliveries in order per subscription. Off: subscriptions are still kept and fanned out when it runs again.
    webhooks_enabled: bool = True
    webhook_interval_seconds: float = 1.0  # idle wait between rounds once nothing is due
    webhook_concurrency: int = 8  # subscriptions served at once by one process
    # SSRF guard (reliability.md API7): https only unless this is set (tests, a development receiver); the resolved
    # address must be public unless it is inside one of these networks (CIDR, e.g. an agency's private link).
    webhook_allow_http: bool = False
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    webhook_connect_timeout_seconds: float = 5.0
    webhook_timeout_seconds: float = 15.0  # the whole attempt, connection to the last byte read
    webhook_max_response_bytes: int = 64 * 1024  # read at most this much of a receiver's answer
    # Retries: exponential backoff base·2^(n−1) capped at max, each delay jittered to 50–100 %; a delivery still
    # failing `window` after its first attempt is dead-lettered (at least 24 h in production).
    webhook_retry_base_seconds: float = 30.0
    webhook_retry_max_seconds: float = 3600.0
    webhook_retry_window_seconds: float = 24 * 3600.0
    webhook_disable_after_seconds: float = 5 * 24 * 3600.0  # a subscription failing this long is disabled
    webhook_secret_overlap_seconds: float = 24 * 3600.0  # after a rotation the old secret still signs this long
    webhook_lease_seconds: float = 60.0  # one process sends a subscription's deliveries at a time

    # The portal's page of a document (门户网站政府信息公开页), e.g. "https://portal.example/xxgk/{document_id}":
    # Atom entries link there, where readers want the page rather than the JSON record. Unset: the entries link
    # to GET /api/v1/catalog/documents/{id} on GONGKAI_PUBLIC_BASE_URL.
    portal_document_url_template: str | None = Field(None, validation_alias="GONGKAI_PORTAL_DOCUMENT_URL_TEMPLATE")

    @field_validator("portal_document_url_template")
    @classmethod
    def _portal_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        what = "GONGKAI_PORTAL_DOCUMENT_URL_TEMPLATE"
        try:
            sample = value.strip().format(document_id="00000000-0000-0000-0000-000000000000")
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"{what} may use only the placeholder {{document_id}}") from None
        if "{document_id}" not in value:
            raise ValueError(f"{what} must contain {{document_id}}")
        absolute_http_url(sample, what, base=False)
        return value.strip()

    def document_link(self, document_id: str) -> tuple[str, str]:
        """The public link of a published document and its media type: the portal page, else the JSON record."""
        if self.portal_document_url_template:
            return self.portal_document_url_template.format(document_id=document_id), "text/html"
        return f"{self.public_base_url}/api/v1/catalog/documents/{document_id}", "application/json"

    @property
    def atom_feed_url(self) -> str:
        """The Atom feed (检索订阅) on the public address; a search's filters are its query (domain/search.feed_url)."""
        return f"{self.public_base_url}/api/v1/catalog/feeds/atom.xml"

    @model_validator(mode="after")
    def _refuse_development_key_in_production(self) -> "Settings":
        if self.environment == "production" and self.feed_cursor_key.get_secret_value() == DEV_FEED_CURSOR_KEY:
            raise ValueError("CATALOG_FEED_CURSOR_KEY must be set in production")
        return self

    @model_validator(mode="after")
    def _webhook_guard(self) -> "Settings":
        import ipaddress

        for network in self.webhook_allowed_networks:
            ipaddress.ip_network(network, strict=False)  # a typo must not start a service with no guard intended
        if self.environment == "production":
            if self.webhook_allow_http:
                raise ValueError("CATALOG_WEBHOOK_ALLOW_HTTP is for tests and development, not production")
            if self.webhook_retry_window_seconds < 24 * 3600:
                raise ValueError("CATALOG_WEBHOOK_RETRY_WINDOW_SECONDS must be at least 24 hours in production")
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("CATALOG_WEBHOOK_LEASE_SECONDS must exceed CATALOG_WEBHOOK_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if not self.database_url:
            self.database_url = default_sqlite_url("catalog")
        return self

    @model_validator(mode="after")
    def _large_body_routes(self) -> "Settings":
        # Only the bulk import, attachment uploads and single documents take bodies above max_body_bytes (multipart
        # framing gets 64 KiB on top of the file limit); the attachment endpoint enforces the exact file size itself.
        defaults = {
            r"^/api/v1/catalog/documents/bulk$": self.max_bulk_body_bytes,
            r"^/api/v1/catalog/documents/[^/]+/attachments$": self.max_attachment_bytes + 64 * 1024,
            r"^/api/v1/catalog/documents(/[^/]+)?$": self.max_document_body_bytes,  # after bulk: first match wins
        }
        self.body_limits = {**defaults, **self.body_limits}
        return self
