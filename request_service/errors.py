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


# The statute as guard rails (legal-rules §1.13): acts the 条例 forbids are refused, with the article in `detail`.


class ReplyPeriodExpired(Conflict):
    """延长答复期限 (第三十三条第二款) or 延迟答复 (第三十五条) decided after the running period had ended."""

    code = "reply_period_expired"
    title, title_zh = "Reply Period Expired", "答复期限已届满"


class ExtensionAlreadyGranted(Conflict):
    code = "extension_already_granted"
    title, title_zh = "Extension Already Granted", "答复期限已延长过一次"


class ExtensionTooLong(UnprocessableEntity):
    code = "extension_too_long"
    title, title_zh = "Extension Too Long", "延长期限最长不超过20个工作日"


class DeferredDueDateInvalid(UnprocessableEntity):
    code = "deferred_due_date_invalid"
    title, title_zh = "Invalid Deferred Deadline", "延迟答复期限不合理"


class ClosureNoticeMissing(Conflict):
    """A closure (三（六）1, 三（六）2, 三（四）3) whose presupposed notice was never sent, or was complied with."""

    code = "closure_notice_missing"
    title, title_zh = "Closure Without Its Notice", "终止办理缺少前置告知"


class ClosurePeriodRunning(Conflict):
    code = "closure_period_running"
    title, title_zh = "Notice Period Still Running", "告知期限尚未届满"


class ExplanationNotRequested(Conflict):
    """第三十五条: a 延迟答复 or a 不予处理 (三（五）4) without first asking the applicant to explain (说明理由)."""

    code = "explanation_not_requested"
    title, title_zh = "Applicant Not Asked to Explain", "未要求申请人说明理由"


class ExplanationPeriodRunning(Conflict):
    code = "explanation_period_running"
    title, title_zh = "Explanation Window Still Running", "说明理由期限尚未届满"


class ExplanationReasonsMissing(Conflict):
    """第三十五条: a 延迟答复 presupposes reasons the organ judged reasonable; none were given."""

    code = "explanation_reasons_missing"
    title, title_zh = "No Reasons Given", "申请人未说明理由"


class WithholdingGroundInvalid(UnprocessableEntity):
    """A withholding or withheld part whose ground is not one of 条例第十四、十五、十六条 / 第三十六条 / 第三十七条."""

    code = "withholding_ground_invalid"
    title, title_zh = "Invalid Withholding Ground", "不予公开理由不属于法定情形"


class NoticeNotDelivered(Conflict):
    """A window the law runs from the applicant's receipt of a notice (补正, 收费通知) has not started: the notice's
    delivery is not recorded yet."""

    code = "notice_not_delivered"
    title, title_zh = "Notice Not Yet Delivered", "告知书尚未送达"


class ProactiveTaskNotFound(NotFound):
    code = "proactive_task_not_found"
