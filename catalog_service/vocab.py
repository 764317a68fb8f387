"""Controlled vocabularies of the catalogue, each value with its Chinese and English label."""

from services.vocab import LabeledEnum


class OrganKind(LabeledEnum):
    """机关类别 · kind of organ"""

    PEOPLES_GOVERNMENT = ("peoples_government", "人民政府", "People's government")
    DEPARTMENT = ("department", "政府部门", "Government department")
    TOWNSHIP_STREET = ("township_street", "乡镇（街道）", "Township / street office")
    PUBLIC_INSTITUTION = ("public_institution", "公共企事业单位", "Public institution")


class DisclosureAttribute(LabeledEnum):
    """公开属性 · disclosure attribute (国办发〔2016〕80号)"""

    PROACTIVE = ("proactive", "主动公开", "Proactive disclosure")
    ON_REQUEST = ("on_request", "依申请公开", "Disclosure on request")
    WITHHELD = ("withheld", "不予公开", "Not disclosed")


class Validity(LabeledEnum):
    """有效性 · validity"""

    IN_FORCE = ("in_force", "现行有效", "In force")
    AMENDED = ("amended", "已修订", "Amended")
    REPEALED = ("repealed", "已废止", "Repealed")
    EXPIRED = ("expired", "已失效", "Expired")


class DocumentStatus(LabeledEnum):
    """状态 · workflow status of a catalogue record"""

    DRAFT = ("draft", "拟稿", "Draft")
    DIVISION_REVIEW = ("division_review", "处室审核", "Division head review")
    UNIT_REVIEW = ("unit_review", "单位审定", "Unit head decision")
    REFERRED = ("referred", "报请主管部门/保密行政管理部门确定", "Referred to the competent / secrecy authority")
    APPROVED = ("approved", "已审定", "Approved")
    SCHEDULED = ("scheduled", "待发布", "Scheduled for publication")
    PUBLISHED = ("published", "已公开", "Published")
    WITHDRAWN = ("withdrawn", "已撤回", "Withdrawn")


class Genre(LabeledEnum):
    """体裁分类 · genre"""

    REGULATION = ("regulation", "规章", "Government regulation")
    NORMATIVE_DOCUMENT = ("normative_document", "行政规范性文件", "Administrative normative document")
    NOTICE = ("notice", "通知", "Notice")
    OPINION = ("opinion", "意见", "Opinion")
    ANNOUNCEMENT = ("announcement", "公告", "Announcement")
    BULLETIN = ("bulletin", "通告", "Public bulletin")
    DECISION = ("decision", "决定", "Decision")
    PLAN = ("plan", "方案", "Plan / programme")
    PLANNING = ("planning", "规划", "Development plan")
    REPORT = ("report", "报告", "Report")
    REPLY = ("reply", "批复", "Official reply")
    MEASURES = ("measures", "办法", "Measures")
    RULES = ("rules", "规定", "Provisions")
    INTERPRETATION = ("interpretation", "政策解读", "Policy interpretation")
    OTHER = ("other", "其他", "Other")


class SubjectCategory(LabeledEnum):
    """主题分类 · subject category (国务院公文主题分类, top level)"""

    GENERAL_AFFAIRS = ("general_affairs", "综合政务", "General government affairs")
    ECONOMY = ("economy", "国民经济管理、国有资产监管", "Economic management, state assets")
    FINANCE = ("finance", "财政、金融、审计", "Finance, banking, audit")
    LAND_RESOURCES = ("land_resources", "国土资源、能源", "Land resources, energy")
    AGRICULTURE = ("agriculture", "农业、林业、水利", "Agriculture, forestry, water")
    INDUSTRY = ("industry", "工业、交通", "Industry, transport")
    COMMERCE = ("commerce", "商贸、海关、旅游", "Commerce, customs, tourism")
    MARKET_REGULATION = ("market_regulation", "市场监管、安全生产监管", "Market and work-safety supervision")
    URBAN_RURAL = ("urban_rural", "城乡建设、环境保护", "Urban-rural construction, environment")
    SCIENCE_EDUCATION = ("science_education", "科技、教育", "Science, education")
    CULTURE_HEALTH = ("culture_health", "文化、广电、新闻出版", "Culture, broadcasting, press")
    HEALTH_SPORTS = ("health_sports", "卫生、体育", "Health, sports")
    POPULATION = ("population", "人口与计划生育、妇女儿童工作", "Population, women and children")
    LABOUR = ("labour", "劳动、人事、监察", "Labour, personnel, supervision")
    PUBLIC_SECURITY = ("public_security", "公安、安全、司法", "Public security, justice")
    CIVIL_AFFAIRS = ("civil_affairs", "民政、扶贫、救灾", "Civil affairs, poverty relief, disaster relief")
    ETHNIC_RELIGION = ("ethnic_religion", "民族、宗教", "Ethnic and religious affairs")
    OTHER = ("other", "其他", "Other")


class Article20Item(LabeledEnum):
    """条例第二十条 所列主动公开事项 · the Art. 20 item a document falls under"""

    I1 = ("1", "（一）行政法规、规章和规范性文件", "(1) Regulations, rules and normative documents")
    I2 = ("2", "（二）机关职能、机构设置、办公地址、办公时间、联系方式、负责人姓名", "(2) Functions, structure and contacts")
    I3 = ("3", "（三）国民经济和社会发展规划、专项规划、区域规划及相关政策", "(3) Plans and related policies")
    I4 = ("4", "（四）国民经济和社会发展统计信息", "(4) Statistics")
    I5 = ("5", "（五）办理行政许可和其他对外管理服务事项的依据、条件、程序以及办理结果", "(5) Licensing and services")
    I6 = ("6", "（六）实施行政处罚、行政强制的依据、条件、程序以及本行政机关认为具有一定社会影响的行政处罚决定",
          "(6) Penalties and coercion")
    I7 = ("7", "（七）财政预算、决算信息", "(7) Budgets and final accounts")
    I8 = ("8", "（八）行政事业性收费项目及其依据、标准", "(8) Administrative fees")
    I9 = ("9", "（九）政府集中采购项目的目录、标准及实施情况", "(9) Centralised procurement")
    I10 = ("10", "（十）重大建设项目的批准和实施情况", "(10) Major construction projects")
    I11 = ("11", "（十一）扶贫、教育、医疗、社会保障、促进就业等方面的政策、措施及其实施情况",
           "(11) Poverty relief, education, health, social security, employment")
    I12 = ("12", "（十二）突发公共事件的应急预案、预警信息及应对情况", "(12) Emergencies")
    I13 = ("13", "（十三）环境保护、公共卫生、安全生产、食品药品、产品质量的监督检查情况", "(13) Inspections")
    I14 = ("14", "（十四）公务员招考的职位、名额、报考条件等事项以及录用结果", "(14) Civil-service recruitment")
    I15 = ("15", "（十五）法律、法规、规章和国家有关规定规定应当主动公开的其他政府信息", "(15) Other mandatory items")


class KeyArea(LabeledEnum):
    """重点领域 · key areas of disclosure"""

    FISCAL_BUDGET = ("fiscal_budget", "财政预决算", "Budgets and final accounts")
    MAJOR_PROJECTS = ("major_projects", "重大建设项目", "Major construction projects")
    PUBLIC_RESOURCES = ("public_resources", "公共资源配置", "Allocation of public resources")
    SOCIAL_WELFARE = ("social_welfare", "社会救助与社会福利", "Social assistance and welfare")
    EDUCATION = ("education", "教育", "Education")
    HEALTH = ("health", "卫生健康", "Health")
    ENVIRONMENT = ("environment", "生态环境", "Environment")
    FOOD_DRUG = ("food_drug", "食品药品安全", "Food and drug safety")
    WORK_SAFETY = ("work_safety", "安全生产", "Work safety")
    EMPLOYMENT = ("employment", "就业创业", "Employment")
    HOUSING = ("housing", "保障性住房", "Social housing")
    LAND_EXPROPRIATION = ("land_expropriation", "征地拆迁", "Land expropriation")
    RURAL = ("rural", "乡村振兴", "Rural revitalisation")
    BUSINESS_ENVIRONMENT = ("business_environment", "优化营商环境", "Business environment")
    EMERGENCY = ("emergency", "应急管理", "Emergency management")


class WithholdingGround(LabeledEnum):
    """不予公开 / 区分处理 的法律依据 · legal ground for withholding (条例第十四、十五、十六条)"""

    STATE_SECRET = ("state_secret", "属于国家秘密（第十四条）", "State secret (Art. 14)")
    PROHIBITED_BY_LAW = ("prohibited_by_law", "法律、行政法规禁止公开（第十四条）", "Prohibited by law (Art. 14)")
    ENDANGERS_SECURITY = ("endangers_security", "危及“三安全一稳定”（第十四条）",
                          "Endangers national, public or economic security or social stability (Art. 14)")
    THIRD_PARTY_RIGHTS = ("third_party_rights", "涉及商业秘密、个人隐私等第三方合法权益（第十五条）",
                          "Trade secrets, privacy, third-party rights (Art. 15)")
    INTERNAL_AFFAIRS = ("internal_affairs", "内部事务信息（第十六条第一款）", "Internal affairs (Art. 16 §1)")
    PROCESS_INFORMATION = ("process_information", "过程性信息（第十六条第二款）", "Process information (Art. 16 §2)")
    ENFORCEMENT_CASE_FILE = ("enforcement_case_file", "行政执法案卷信息（第十六条第二款）",
                             "Administrative enforcement case file (Art. 16 §2)")
    NOT_GOVERNMENT_INFORMATION = ("not_government_information", "不属于政府信息", "Not government information")


class ClassificationLevel(LabeledEnum):
    """密级 · classification level (保守国家秘密法第十条)"""

    SECRET = ("secret", "秘密", "Secret")
    CONFIDENTIAL = ("confidential", "机密", "Confidential")
    TOP_SECRET = ("top_secret", "绝密", "Top secret")


class RedactionState(LabeledEnum):
    """遮盖定位状态 · whether a redaction still stands on its text"""

    ANCHORED = ("anchored", "已定位", "Anchored: the text stands at start–end")
    LOST = ("lost", "定位已失效", "Lost: an edit removed or changed the text, or made it ambiguous")


class WebhookStatus(LabeledEnum):
    """订阅状态 · status of a webhook subscription"""

    ACTIVE = ("active", "启用", "Active")
    DISABLED = ("disabled", "已停用", "Disabled")


class DeliveryStatus(LabeledEnum):
    """推送状态 · status of a webhook delivery"""

    PENDING = ("pending", "待推送", "Pending")
    DELIVERED = ("delivered", "已送达", "Delivered")
    DEAD = ("dead", "推送失败（不再重试）", "Dead (no more retries)")
    SKIPPED = ("skipped", "已跳过（不在订阅事件类型内）", "Skipped (not among the subscribed event types)")


class ChangeKind(LabeledEnum):
    """变更类型 · kind of a change in the public change feed"""

    UPSERT = ("upsert", "新增或更新", "Upsert: store the record")
    TOMBSTONE = ("tombstone", "移除", "Tombstone: remove the record from your copy")


class BulkStatus(LabeledEnum):
    """批量导入结果 · what a bulk import did with one record"""

    CREATED = ("created", "已新建", "Created")
    UPDATED = ("updated", "已更新", "Updated")
    UNCHANGED = ("unchanged", "未变化", "Unchanged")
    REJECTED = ("rejected", "已拒绝", "Rejected")


class BulkRejectReason(LabeledEnum):
    """拒绝原因 · why a bulk import rejected one record"""

    INVALID = ("invalid", "字段不合法", "A field is invalid")
    DUPLICATE_IN_BATCH = ("duplicate_in_batch", "同批重复", "The same record twice in one batch")
    INVALID_REFERENCE = ("invalid_reference", "引用不存在", "A referenced record or organ does not exist")
    FOREIGN_RECORD_LINK = ("foreign_record_link", "关联了其他机关的记录", "Links a record of another organ")
    IN_WORKFLOW = ("in_workflow", "记录正在审查流程中", "The record is in the review workflow")
    OTHER_ORGAN = ("other_organ", "不属本机关", "The record belongs to another organ")
    INDEX_NO_TAKEN = ("index_no_taken", "索引号已被占用", "The 索引号 is taken")
    WRITE_FAILED = ("write_failed", "写入失败", "The write failed")


class ColumnRule(LabeledEnum):
    """栏目更新要求 · the update rule a catalogue column must meet"""

    INTERVAL = ("interval", "定期更新", "Updated every N days, weeks or months")
    STATUTORY = ("statutory", "法定时点前更新", "Updated every year by a statutory date")
    WHEN_CHANGED = ("when_changed", "有变化即更新", "Updated when the matter changes")


class IntervalUnit(LabeledEnum):
    """周期单位 · the unit of a column's update interval"""

    DAY = ("day", "日", "Day")
    WEEK = ("week", "周", "Week")
    MONTH = ("month", "月", "Month")


class MappingBasis(LabeledEnum):
    """映射方式 · how a record came to be under a standard-catalogue item (基层政务公开标准目录)"""

    RULE = ("rule", "按事项规则匹配", "By the item's rules (体裁, 主题分类, title keyword)")
    EXPLICIT = ("explicit", "工作人员指定", "Mapped by the organ's staff")


ALL_ENUMS = (OrganKind, DisclosureAttribute, Validity, DocumentStatus, Genre, SubjectCategory, Article20Item,
             KeyArea, WithholdingGround, ClassificationLevel, RedactionState, WebhookStatus, DeliveryStatus,
             ChangeKind, BulkStatus, BulkRejectReason, ColumnRule, IntervalUnit, MappingBasis)
