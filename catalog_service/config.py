from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings, absolute_http_url, default_sqlite_url

DEV_FEED_CURSOR_KEY = "gongkai-development-feed-cursor-key"


class Settings(ServiceSettings):
    """Catalogue settings (env prefix CATALOG_)."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", populate_by_name=True)

    index_no_template: str = "{organ_code}/{year}-{serial:05d}"
    # Key of the public change feed's cursors (domain/feed_cursor.py): they hide the internal event ids, whose gaps
    # would count non-public activity. Changing it invalidates harvesters' stored cursors (they resume from 0).
    feed_cursor_key: SecretStr = SecretStr(DEV_FEED_CURSOR_KEY)
    attachment_dir: str = "data/attachments"
    max_attachment_bytes: int = 20 * 1024 * 1024
    scheduler_interval_seconds: float = 30.0  # 定时发布 check; 0 disables the job
    max_bulk_body_bytes: int = 10 * 1024 * 1024  # one bulk-import call (≤ 1,000 records), as the gateway; → 413
    # One document (POST /documents, PATCH /documents/{id}): its schema admits a 500,000-character body, ~3 MB as
    # ASCII-escaped JSON of Chinese text; the general 1 MiB limit refused valid documents (tests/security/
    # test_limits.py).
    max_document_body_bytes: int = 4 * 1024 * 1024
    # The request service (reached over HTTP only) owns the working-day calendar: the "request-calendar" consumer
    # follows its event feed for calendar.year_loaded (domain/calendar_feed.py). Off: the package calendar only.
    request_url: str = "http://127.0.0.1:8102"
    request_connect_timeout_seconds: float = 1.0
    request_timeout_seconds: float = 10.0
    calendar_feed_enabled: bool = True
    calendar_feed_interval_seconds: float = 10.0  # idle wait between polls once caught up
    calendar_feed_batch_size: int = 500  # the feed carries every request-service event; most are skipped
    # 检索索引 (domain/indexer.py): this process's search index. Unset: in memory, built from the database at start
    # (the embedded default; fine for tens of thousands of records). Production: a directory per instance.
    search_index_dir: str | None = None
    search_index_interval_seconds: float = 0.5  # background catch-up; freshness of search after a commit
    # Search first applies pending changes itself when at most this many are pending (read-your-writes for a
    # clerk); more (a bulk import) are left to the background indexer so no search waits for them. 0: never.
    search_catch_up_on_read: int = 50
    search_index_max_lag_seconds: float = 60.0  # readiness: an index lagging more is not ready

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
