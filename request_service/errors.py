from services.errors import Conflict, Forbidden, NotFound, TooManyRequests, UnprocessableEntity


class ApplicationNotFound(NotFound):
    code = "application_not_found"


class OutsideOrgan(Forbidden):
    code = "outside_organ"


class WrongRole(Forbidden):
    code = "wrong_role"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class UnknownOrgan(UnprocessableEntity):
    code = "unknown_organ"


class LookupLocked(TooManyRequests):
    code = "lookup_locked"


# Letters, fees, appeals, calendar (答复书与告知书、信息处理费、复议诉讼、工作日历).


class LetterNotFound(NotFound):
    code = "letter_not_found"


class UnknownLetterKind(UnprocessableEntity):
    code = "unknown_letter_kind"


class LetterOutcomeMissing(UnprocessableEntity):
    code = "letter_outcome_missing"


class FeePagesRequired(UnprocessableEntity):
    code = "fee_pages_required"


class UnknownFeeMethod(UnprocessableEntity):
    code = "unknown_fee_method"


class ReceiptDateMissing(Conflict):
    code = "receipt_date_missing"


class AppealNotFound(NotFound):
    code = "appeal_not_found"


class ReconsiderationRequired(Conflict):
    code = "reconsideration_required"


class InvalidAppeal(UnprocessableEntity):
    code = "invalid_appeal"


class InvalidCalendarYear(UnprocessableEntity):
    code = "invalid_calendar_year"


# Intake and applicant self-service (request_service/domain/intake.py, pii.py, consultations.py).


class IdempotencyKeyReused(UnprocessableEntity):
    code = "idempotency_key_reused"


class ApplicantRoleRequired(Forbidden):
    code = "applicant_role_required"


class PiiUnmaskForbidden(Forbidden):
    code = "pii_unmask_forbidden"


class UnmaskReasonRequired(UnprocessableEntity):
    code = "unmask_reason_required"
