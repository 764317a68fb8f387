"""Controlled vocabularies of applications for disclosure (依申请公开)."""

from services.vocab import LabeledEnum


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
