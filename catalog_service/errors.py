from services.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class OrganNotFound(NotFound):
    code = "organ_not_found"


class OrganCodeTaken(Conflict):
    code = "organ_code_taken"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"


class OutsideOrgan(Forbidden):
    code = "outside_organ"


class WrongRole(Forbidden):
    code = "wrong_role"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class ClassifiedNeverPublished(Conflict):
    code = "classified_never_published"


class InvalidReference(UnprocessableEntity):
    code = "invalid_reference"


class OffsetInCharacter(UnprocessableEntity):
    """A UTF-16 offset (offset_unit utf16) between the two halves of a surrogate pair: it names no character."""

    code = "offset_inside_character"


class NotEditable(Conflict):
    code = "not_editable"


class RedactionAnchorLost(Conflict):
    """区分处理: a redaction's withheld text was not found again after an edit; the record goes no further until a
    secrecy officer has reviewed the redactions named in `errors`."""

    code = "redaction_anchor_lost"


class RedactionProtected(Forbidden):
    """Removing this redaction is not the caller's: a secrecy officer's redaction is removed only by a secrecy
    officer, anyone else's only by its author while the record is a draft."""

    code = "redaction_protected"


# ---- sync surface and attachments ----
from services.errors import AppError, PayloadTooLarge  # noqa: E402


class IntegrationScopeMissing(Forbidden):
    code = "integration_scope_missing"


class IdempotencyKeyReused(UnprocessableEntity):
    code = "idempotency_key_reused"


class AttachmentTooLarge(PayloadTooLarge):
    code = "attachment_too_large"


class UnsupportedAttachmentType(AppError):
    status_code, code = 415, "unsupported_attachment_type"
    title, title_zh = "Unsupported Media Type", "不支持的附件类型"


class AttachmentContentMismatch(UnprocessableEntity):
    code = "attachment_content_mismatch"


class StaffOnlyFilter(UnprocessableEntity):
    code = "staff_only_filter"


class OrganHierarchyCycle(UnprocessableEntity):
    """机构改革: an organ cannot be placed under itself or under one of its own subordinates."""

    code = "organ_hierarchy_cycle"


class ForeignRecordLink(Forbidden):
    """修订/废止 of another organ's record: only that organ (or a co-issuer of a 联合发文 record) acts on it."""

    code = "foreign_record_link"


class SynonymNotFound(NotFound):
    code = "synonym_not_found"


# ---- webhook subscriptions (推送订阅) ----

class WebhookSubscriptionNotFound(NotFound):
    code = "webhook_subscription_not_found"


class WebhookDeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


class WebhookUrlRefused(UnprocessableEntity):
    """SSRF guard: not https, or the host resolves to a loopback, private, link-local or metadata address."""

    code = "webhook_url_refused"


class DigestPositionPassed(Conflict):
    """可验证的同步: the organ's public records changed after the `as_of` position; the digest would not describe it."""

    code = "digest_position_passed"


class ColumnNotFound(NotFound):
    code = "column_not_found"


class ColumnNameTaken(Conflict):
    code = "column_name_taken"


class StandardCatalogueNotFound(NotFound):
    code = "standard_catalogue_not_found"


class StandardAdoptionNotFound(NotFound):
    code = "standard_adoption_not_found"


class StandardMappingExists(Conflict):
    code = "standard_mapping_exists"
