"""Controlled vocabularies of applications for disclosure (依申请公开)."""

from services.vocab import ApplicationStatus, ConsultationChannel, LabeledEnum

# ApplicationStatus lives in services/vocab.py: the catalogue labels it too, in the application status webhooks
# it sends partner platforms (推送订阅). ConsultationChannel too: the annual report's layout labels it.


class Channel(LabeledEnum):
    """申请渠道 · intake channel; the receipt date follows 条例第三十一条 per channel"""

    IN_PERSON = ("in_person", "当面提交", "In person")
    MAIL_SIGNED = ("mail_signed", "邮寄（需签收）", "Post needing a signature")
    MAIL_ORDINARY = ("mail_ordinary", "平常信函", "Ordinary letter")
    ONLINE = ("online", "互联网（在线申请）", "Online form")
    EMAIL = ("email", "电子邮件", "E-mail")
    FAX = ("fax", "传真", "Fax")
    OTHER = ("other", "其他", "Other")


class ApplicantType(LabeledEnum):
    """申请人类型 · applicant type, exactly the annual report's columns"""

    NATURAL_PERSON = ("natural_person", "自然人", "Natural person")
    COMMERCIAL_ENTERPRISE = ("commercial_enterprise", "商业企业", "Commercial enterprise")
    RESEARCH_INSTITUTION = ("research_institution", "科研机构", "Research institution")
    SOCIAL_WELFARE_ORG = ("social_welfare_org", "社会公益组织", "Social welfare organisation")
    LEGAL_SERVICE_ORG = ("legal_service_org", "法律服务机构", "Legal service organisation")
    OTHER_ORG = ("other_org", "其他", "Other organisation")


class Outcome(LabeledEnum):
    """办理结果 · reply outcome, exactly one row of annual-report table 三 (2021 format)"""

    GRANTED = ("granted", "予以公开", "Granted")
    PARTIALLY_GRANTED = ("partially_granted", "部分公开（区分处理）", "Partially granted")
    WITHHELD_STATE_SECRET = ("withheld.state_secret", "不予公开：属于国家秘密", "Withheld: state secret")
    WITHHELD_PROHIBITED_BY_LAW = ("withheld.prohibited_by_law", "不予公开：其他法律行政法规禁止公开",
                                  "Withheld: prohibited by other laws")
    WITHHELD_ENDANGERS_SECURITY_STABILITY = ("withheld.endangers_security_stability",
                                             "不予公开：危及“三安全一稳定”", "Withheld: endangers security or stability")
    WITHHELD_THIRD_PARTY_RIGHTS = ("withheld.third_party_rights", "不予公开：保护第三方合法权益",
                                   "Withheld: third-party rights")
    WITHHELD_INTERNAL_AFFAIRS = ("withheld.internal_affairs", "不予公开：属于三类内部事务信息",
                                 "Withheld: internal affairs")
    WITHHELD_PROCESS_INFORMATION = ("withheld.process_information", "不予公开：属于四类过程性信息",
                                    "Withheld: process information")
    WITHHELD_ENFORCEMENT_CASE_FILE = ("withheld.enforcement_case_file", "不予公开：属于行政执法案卷",
                                      "Withheld: enforcement case file")
    WITHHELD_ADMINISTRATIVE_QUERY = ("withheld.administrative_query", "不予公开：属于行政查询事项",
                                     "Withheld: administrative query matter")
    UNABLE_NOT_HELD = ("unable.not_held", "无法提供：本机关不掌握相关政府信息", "Unable: not held by this organ")
    UNABLE_NEEDS_CREATION = ("unable.needs_creation", "无法提供：没有现成信息需要另行制作",
                             "Unable: would need to be created")
    UNABLE_STILL_UNCLEAR = ("unable.still_unclear_after_supplement", "无法提供：补正后申请内容仍不明确",
                            "Unable: still unclear after supplement")
    NOT_PROCESSED_PETITION = ("not_processed.petition_complaint", "不予处理：信访举报投诉类申请",
                              "Not processed: petition or complaint")
    NOT_PROCESSED_REPEAT = ("not_processed.repeat_application", "不予处理：重复申请", "Not processed: repeat")
    NOT_PROCESSED_PUBLICATION = ("not_processed.publication_requested", "不予处理：要求提供公开出版物",
                                 "Not processed: published material requested")
    NOT_PROCESSED_EXCESSIVE = ("not_processed.excessive_volume", "不予处理：无正当理由大量反复申请",
                               "Not processed: excessive volume")
    NOT_PROCESSED_CONFIRMATION = ("not_processed.confirmation_requested",
                                  "不予处理：要求行政机关确认或重新出具已获取信息",
                                  "Not processed: confirmation or re-issue requested")
    OTHER_NO_SUPPLEMENT = ("other.no_supplement", "其他处理：申请人无正当理由逾期不补正",
                           "Other: not supplemented in time")
    OTHER_FEE_UNPAID = ("other.fee_unpaid", "其他处理：申请人逾期未缴纳信息处理费", "Other: fee not paid")
    OTHER_OTHER = ("other.other", "其他处理：其他", "Other: other")


class IdType(LabeledEnum):
    """身份证明类型 · kind of identity document"""

    RESIDENT_ID = ("resident_id", "居民身份证", "Resident identity card")
    PASSPORT = ("passport", "护照", "Passport")
    HK_MACAO_PERMIT = ("hk_macao_permit", "港澳居民来往内地通行证", "Mainland travel permit (HK/Macao)")
    TAIWAN_PERMIT = ("taiwan_permit", "台湾居民来往大陆通行证", "Mainland travel permit (Taiwan)")
    USCC = ("uscc", "统一社会信用代码", "Unified social credit code (organisations)")
    OTHER = ("other", "其他", "Other")


class InfoForm(LabeledEnum):
    """获取信息的形式 · form in which the information is wanted"""

    PAPER = ("paper", "纸质", "Paper")
    ELECTRONIC = ("electronic", "电子数据", "Electronic data")
    INSPECTION = ("inspection", "当场阅读、抄录", "Reading and copying on site")


class Delivery(LabeledEnum):
    """获取方式 · how the reply is delivered"""

    MAIL = ("mail", "邮寄", "Post")
    EMAIL = ("email", "电子邮件", "E-mail")
    PICKUP = ("pickup", "当面领取", "Collection in person")
    ONLINE = ("online", "网上获取", "Online")
    FAX = ("fax", "传真", "Fax")


class AppealKind(LabeledEnum):
    """救济程序 · kind of proceeding (annual report table 四)"""

    RECONSIDERATION = ("reconsideration", "行政复议", "Administrative reconsideration")
    LITIGATION_DIRECT = ("litigation_direct", "未经复议直接起诉", "Litigation without reconsideration")
    LITIGATION_AFTER_RECONSIDERATION = ("litigation_after_reconsideration", "复议后起诉",
                                        "Litigation after reconsideration")


class AppealOutcome(LabeledEnum):
    """复议、诉讼结果 · outcome"""

    UPHELD = ("upheld", "结果维持", "Upheld")
    CORRECTED = ("corrected", "结果纠正", "Corrected")
    OTHER = ("other", "其他结果", "Other outcome")
    PENDING = ("pending", "尚未审结", "Pending")


class FeeMethod(LabeledEnum):
    """信息处理费计收方式 · fee method (国办函〔2020〕109号 第三条)"""

    PER_APPLICATION = ("per_application", "按件计收", "Per application")
    PER_VOLUME = ("per_volume", "按量计收", "Per volume (pages)")


class PartyKind(LabeledEnum):
    """被征求意见方 · party consulted"""

    THIRD_PARTY = ("third_party", "第三方（第三十二条）", "Third party (Art. 32)")
    CO_AUTHOR_ORGAN = ("co_author_organ", "共同制作机关（第三十四条）", "Co-author organ (Art. 34)")


class Opinion(LabeledEnum):
    """第三方意见 · the consulted party's answer"""

    CONSENT = ("consent", "同意公开", "Consents")
    OBJECT = ("object", "不同意公开", "Objects")
    NO_REPLY = ("no_reply", "逾期未答复", "No reply in time")


class LetterKind(LabeledEnum):
    """文书 · generated letters"""

    REPLY = ("reply", "政府信息公开申请答复书", "Reply letter")
    SUPPLEMENT_NOTICE = ("supplement_notice", "补正告知书", "Notice to supplement")
    EXTENSION_NOTICE = ("extension_notice", "延期答复告知书", "Notice of extension")
    CONSULTATION_LETTER = ("consultation_letter", "第三方意见征询函", "Consultation letter")
    FEE_NOTICE = ("fee_notice", "收费通知", "Fee notice")
    RECEIPT = ("receipt", "受理回执", "Acknowledgement of receipt")
    EXPLANATION_REQUEST = ("explanation_request", "说明理由通知书", "Request to explain the reasons (Art. 35)")
    DEFERRAL_NOTICE = ("deferral_notice", "延迟答复告知书", "Notice of a deferred reply (Art. 35)")


class Breach(LabeledEnum):
    """违规记录 · an act the 条例 allows but makes a breach: accepted, recorded on the application and published on
    the event feed, so supervision (第四十七条 督促整改) and the organ's own review can count it (legal-rules §1.13)"""

    LATE_SUPPLEMENT_NOTICE = ("late_supplement_notice", "补正告知超过收到申请之日起7个工作日（条例第三十条）",
                              "Supplement notice later than 7 working days after receipt (Art. 30)")


# The article each breach offends (the `article` of a recorded breach).
BREACH_ARTICLES = {Breach.LATE_SUPPLEMENT_NOTICE: "条例第三十条"}

class RefusalGround(LabeledEnum):
    """不予公开 / 区分处理的理由 · the legal ground of a withholding or of a withheld part (条例第十四、十五、十六条,
    第三十六条第（七）项, 第三十七条): chosen from this list, never free text — the free text is only the explanation
    beside it. Each ground has its article (GROUND_ARTICLES) and the annual-report row it feeds (GROUND_ROWS)."""

    STATE_SECRET = ("state_secret", "属于国家秘密", "State secret")
    PROHIBITED_BY_LAW = ("prohibited_by_law", "其他法律行政法规禁止公开", "Prohibited by other laws")
    ENDANGERS_SECURITY_STABILITY = ("endangers_security_stability", "危及“三安全一稳定”",
                                    "Endangers national, public or economic security or social stability")
    THIRD_PARTY_RIGHTS = ("third_party_rights", "保护第三方合法权益（商业秘密、个人隐私等）",
                          "Third-party rights (trade secrets, privacy)")
    INTERNAL_AFFAIRS = ("internal_affairs", "属于三类内部事务信息", "Internal affairs")
    PROCESS_INFORMATION = ("process_information", "属于四类过程性信息", "Process information")
    ENFORCEMENT_CASE_FILE = ("enforcement_case_file", "属于行政执法案卷", "Administrative enforcement case file")
    ADMINISTRATIVE_QUERY = ("administrative_query", "属于行政查询事项", "Administrative query matter")
    NOT_GOVERNMENT_INFORMATION = ("not_government_information", "不属于政府信息",
                                  "Not government information (partial disclosure only)")


# The article each ground rests on (legal-rules §1.8; the 36(七) mapping is 🔧) — quoted by the letters.
GROUND_ARTICLES: dict[RefusalGround, str] = {
    RefusalGround.STATE_SECRET: "条例第十四条",
    RefusalGround.PROHIBITED_BY_LAW: "条例第十四条",
    RefusalGround.ENDANGERS_SECURITY_STABILITY: "条例第十四条",
    RefusalGround.THIRD_PARTY_RIGHTS: "条例第十五条",
    RefusalGround.INTERNAL_AFFAIRS: "条例第十六条第一款",
    RefusalGround.PROCESS_INFORMATION: "条例第十六条第二款",
    RefusalGround.ENFORCEMENT_CASE_FILE: "条例第十六条第二款",
    RefusalGround.ADMINISTRATIVE_QUERY: "条例第三十六条第（七）项",
    RefusalGround.NOT_GOVERNMENT_INFORMATION: "条例第三十七条",
}
# The row of annual-report table 三 an application withheld on the ground is counted in (a partial disclosure is
# counted in （二） whatever the grounds of its withheld parts). "Not government information" is no 不予公开 ground.
GROUND_ROWS: dict[RefusalGround, str | None] = {
    g: f"withheld.{g.value}" for g in RefusalGround if g is not RefusalGround.NOT_GOVERNMENT_INFORMATION}
GROUND_ROWS[RefusalGround.NOT_GOVERNMENT_INFORMATION] = None


class ProactiveTaskStatus(LabeledEnum):
    """依申请转主动 · state of a "consider proactive disclosure" task (条例第四十四条)"""

    OPEN = ("open", "待研究", "To consider")
    PUBLISHED = ("published", "已转为主动公开", "Published proactively")
    DECLINED = ("declined", "不转为主动公开", "Declined")


ALL_ENUMS = (Channel, ApplicantType, Outcome, ApplicationStatus, IdType, InfoForm, Delivery, ConsultationChannel,
             AppealKind, AppealOutcome, FeeMethod, PartyKind, Opinion, LetterKind, Breach, RefusalGround,
             ProactiveTaskStatus)
