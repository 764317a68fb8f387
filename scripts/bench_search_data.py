"""Deterministic synthetic 政务公开 documents for the search benchmark (scripts/bench_search.py).

The vocabulary and the title generator are copied from ../shared/bench/gen_cjk_titles.py (performance.md §1): a
Zipf-weighted vocabulary of places, organs, actions, topics and document types, plus random 2–4 character
"project names" for a long tail of rare n-grams. Summaries (40–90 characters) and bodies (100–300 characters) are
built from sentence templates over the same vocabulary. About 4 % of the documents are written in Traditional
characters (OpenCC s2t), so folding is exercised. The public projection is computed by the service's own
refresh_projection, so the benchmark indexes exactly what the service would.
"""

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import opencc

from catalog_service.codes import uscc_check_char
from catalog_service.domain.projection import refresh_projection

PLACES = ("北京市 上海市 天津市 重庆市 广东省 浙江省 江苏省 四川省 湖北省 湖南省 山东省 河南省 河北省 福建省 安徽省 "
          "江西省 云南省 贵州省 陕西省 山西省 甘肃省 辽宁省 吉林省 黑龙江省 海南省 深圳市 广州市 杭州市 宁波市 温州市 "
          "成都市 武汉市 南京市 苏州市 无锡市 西安市 长沙市 郑州市 济南市 青岛市 福州市 厦门市 昆明市 贵阳市 南昌市 合肥市 "
          "海淀区 朝阳区 浦东新区 天河区 余杭区 西湖区 武侯区 江汉区 鼓楼区 雁塔区 岳麓区 历下区 思明区 五华区").split()
ORGS = ("人民政府 人民政府办公厅 人民政府办公室 发展和改革委员会 教育局 教育厅 财政局 财政厅 人力资源和社会保障局 "
        "自然资源局 生态环境局 住房和城乡建设局 交通运输局 水利局 农业农村局 商务局 文化和旅游局 卫生健康委员会 "
        "应急管理局 市场监督管理局 统计局 医疗保障局 税务局 公安局 民政局 司法局 审计局 退役军人事务局 林业局 体育局 "
        "信访局 政务服务管理局 大数据局 科学技术局 工业和信息化局 街道办事处 乡镇人民政府 管理委员会").split()
ACTIONS = ("印发 转发 做好 开展 加强 推进 进一步 深化 促进 规范 实施 落实 贯彻 组织 公布 公示 征求 调整 下达 "
           "批复 同意 设立 废止 修订 完善 建立健全 全面 切实 支持 鼓励 提升 强化 优化 健全 扎实 统筹").split()
TOPICS = ("安全生产 疫情防控 乡村振兴 营商环境 体制改革 高质量发展 生态环境保护 义务教育 医疗保障 养老服务 就业创业 "
          "住房保障 城市更新 老旧小区改造 政务公开 信息公开 数字政府 财政预算 部门决算 专项资金 建设项目 政府采购 "
          "招标投标 行政许可 行政处罚 双随机一公开 食品安全 药品监管 防汛抗旱 森林防火 耕地保护 土地利用 "
          "国土空间规划 交通运输 水利工程 农村人居环境 农业产业化 社会保险 最低生活保障 残疾人帮扶 退役军人服务 "
          "科技创新 知识产权 中小企业 人才引进 文化旅游 全民健身 垃圾分类 河长制 林长制 碳达峰碳中和 节能减排 "
          "大气污染防治 水污染防治 公共卫生 基层治理 社区服务 平安建设 扫黑除恶 安全隐患排查 消防安全 "
          "质量提升 标准化建设 统计调查 审计整改 干部培训 党风廉政建设 政府网站 政务服务 一网通办 放管服改革 "
          "减税降费 稳岗就业 防止返贫 职业技能培训 学前教育 职业教育 高等教育 基本公共服务 应急预案 重大项目 "
          "专项债券 财政补贴 惠民惠农 农机购置补贴 耕地地力保护补贴 危房改造 棚户区改造 保障性租赁住房").split()
DOCTYPES = ("通知 意见 办法 规定 方案 决定 公告 通告 报告 批复 函 细则 规划 纲要 工作要点 实施方案 管理办法 "
            "暂行办法 实施意见 指导意见 工作方案 行动计划 名单 结果 情况 公示 总结 实施细则 考核办法 工作安排").split()
QUALS = ("年度 第一批 第二批 第三批 十四五 专项 试点 示范 重点 阶段性 补充 有关 相关 若干 工作 管理 "
         "评估 验收 检查 考核 督查 整改 监督 申报 认定 备案 登记 审批 核准 清单 目录 标准 指标 资金").split()
COMMON = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所"
          "民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那"
          "社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通"
          "并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区"
          "强放决西被干做必战先回则任取据处府研保务究历满越规商米导格养约城益谈引整省装速办林色县区街乡镇村委员局厅室署司校院站场厂矿")

# Sentence templates of summaries and bodies: {p} place, {o} organ, {a} action, {t}/{u} topics, {q} qualifier.
SUMMARY = ["为{a}{t}工作，{p}{o}制定本{d}，明确{q}任务和责任分工。",
           "本{d}就{t}和{u}有关事项作出规定，自印发之日起施行。",
           "{p}{o}关于{a}{t}的{d}，涉及{u}{q}等内容，现予以公开。",
           "根据{t}有关要求，{o}对{u}{q}情况进行了梳理，现将结果公示。"]
BODY = ["各区县人民政府，市政府各部门、各直属机构：",
        "为深入贯彻落实党中央、国务院关于{t}的决策部署，进一步{a}{u}工作，经研究，现就有关事项通知如下。",
        "一、总体要求。坚持以人民为中心，{a}{t}，推动{u}{q}工作取得实效。",
        "二、主要任务。各单位要{a}{t}{q}，建立健全{u}工作机制，按季度报送进展情况。",
        "三、保障措施。{o}负责统筹协调，财政部门做好预算保障，审计部门加强监督检查。",
        "四、信息公开。各单位应当依法主动公开{t}有关信息，接受社会监督。",
        "{p}{x}项目位于{y}片区，总投资{k}亿元，建设内容包括{u}和{x}配套设施。",
        "经{o}审核，{x}等{k}家单位符合{t}{q}条件，现予以公示，公示期为五个工作日。",
        "{y}片区{x}工程已完成{t}{q}，{o}将会同有关部门组织验收。",
        "截至{k}月底，全市累计完成{t}任务{n}项，{u}工作稳步推进。",
        "对{x}存在的{q}问题，{o}已督促限期整改，整改结果将及时向社会公布。",
        "申请人可通过{p}政务服务网或{y}服务窗口办理{t}相关事项。",
        "{o}将{a}{u}，统筹推进{t}，确保各项任务落到实处。",
        "请各单位结合实际认真贯彻执行，执行中遇到的问题请及时向{o}反映。",
        "本{d}由{p}{o}负责解释，联系电话：020-{n:08d}。",
        "附件：{t}{q}清单（共{k}项）。"]

# Genres (体裁分类) by document type; subject categories (主题分类) and key areas (重点领域) by topic.
GENRE = {"通知": "notice", "意见": "opinion", "办法": "measures", "规定": "rules", "方案": "plan", "决定": "decision",
         "公告": "announcement", "通告": "bulletin", "报告": "report", "批复": "reply", "规划": "planning",
         "实施方案": "plan", "管理办法": "measures", "暂行办法": "measures", "实施意见": "opinion",
         "指导意见": "opinion", "工作方案": "plan", "细则": "rules", "实施细则": "rules", "考核办法": "measures"}
TOPIC_AREA = {"财政预算": ("finance", "fiscal_budget"), "部门决算": ("finance", "fiscal_budget"),
              "专项资金": ("finance", "fiscal_budget"), "财政补贴": ("finance", "fiscal_budget"),
              "建设项目": ("urban_rural", "major_projects"), "重大项目": ("economy", "major_projects"),
              "政府采购": ("finance", "public_resources"), "招标投标": ("commerce", "public_resources"),
              "最低生活保障": ("civil_affairs", "social_welfare"), "养老服务": ("civil_affairs", "social_welfare"),
              "义务教育": ("science_education", "education"), "学前教育": ("science_education", "education"),
              "职业教育": ("science_education", "education"), "高等教育": ("science_education", "education"),
              "公共卫生": ("health_sports", "health"), "医疗保障": ("health_sports", "health"),
              "生态环境保护": ("urban_rural", "environment"), "大气污染防治": ("urban_rural", "environment"),
              "水污染防治": ("urban_rural", "environment"), "食品安全": ("market_regulation", "food_drug"),
              "药品监管": ("market_regulation", "food_drug"), "安全生产": ("market_regulation", "work_safety"),
              "消防安全": ("public_security", "work_safety"), "就业创业": ("labour", "employment"),
              "稳岗就业": ("labour", "employment"), "住房保障": ("urban_rural", "housing"),
              "保障性租赁住房": ("urban_rural", "housing"), "棚户区改造": ("urban_rural", "housing"),
              "乡村振兴": ("agriculture", "rural"), "防止返贫": ("civil_affairs", "rural"),
              "营商环境": ("economy", "business_environment"), "放管服改革": ("economy", "business_environment"),
              "应急预案": ("public_security", "emergency"), "防汛抗旱": ("agriculture", "emergency"),
              "森林防火": ("agriculture", "emergency")}
SUBJECTS = ["general_affairs", "economy", "finance", "urban_rural", "agriculture", "science_education", "labour",
            "civil_affairs", "market_regulation", "industry", "commerce", "health_sports", "public_security"]

# Organs (机关): a city government with its departments, districts and street offices. Codes are valid USCC.
ORGAN_NAMES = ["示范市人民政府", "示范市人民政府办公厅", "示范市发展和改革委员会", "示范市教育局", "示范市财政局",
               "示范市人力资源和社会保障局", "示范市自然资源局", "示范市生态环境局", "示范市住房和城乡建设局",
               "示范市交通运输局", "示范市水利局", "示范市农业农村局", "示范市卫生健康委员会", "示范市应急管理局",
               "示范市市场监督管理局", "示范市民政局"]
DISTRICTS = ["东湖区", "西山区", "南岸区", "北城区"]
ABBR = "示府办 示发改 示教 示财 示人社 示自然 示环 示建 示交 示水 示农 示卫 示应急 示市监 示民".split()


def organ_code(n: int) -> str:
    base = f"1144010{n:04d}MB{n:04d}"[:17]
    return base + uscc_check_char(base)


@dataclass(frozen=True)
class OrganRow:
    id: str
    code: str
    name: str
    kind: str
    parent_id: str | None
    path: str
    abbr: str


def organs() -> list[OrganRow]:
    """16 city organs, 4 districts with 3 street offices each: 32 organs, a three-level tree."""
    out: list[OrganRow] = []
    root_id = "00000000-0000-4000-8000-000000000000"
    for i, name in enumerate(ORGAN_NAMES):
        oid = f"00000000-0000-4000-8000-{i:012d}"
        parent = None if i == 0 else root_id
        path = f"/{root_id}/" if i == 0 else f"/{root_id}/{oid}/"
        out.append(OrganRow(oid, organ_code(i + 1), name, "peoples_government" if i == 0 else "department",
                            parent, path, "示府" if i == 0 else ABBR[i - 1]))
    n = len(out)
    for d, district in enumerate(DISTRICTS):
        did = f"00000000-0000-4000-8001-{d:012d}"
        dpath = f"/{root_id}/{did}/"
        out.append(OrganRow(did, organ_code(100 + d), f"示范市{district}人民政府", "peoples_government", root_id,
                            dpath, district[:2] + "府"))
        for s in range(3):
            sid = f"00000000-0000-4000-8002-{d * 10 + s:012d}"
            out.append(OrganRow(sid, organ_code(200 + d * 10 + s), f"示范市{district}第{s + 1}街道办事处",
                                "township_street", did, f"{dpath}{sid}/", district[:2] + "街"))
    assert len(out) == n + 16
    return out


def zipf_choice(rng: random.Random, seq: list[str], s: float = 1.1) -> str:
    # cheap Zipf-ish pick: index = floor(len * u^(1+s)) concentrates mass on early items
    return seq[min(len(seq) - 1, int(len(seq) * (rng.random() ** (1 + s))))]


def title(rng: random.Random) -> tuple[str, str, list[str]]:
    """(title, document type, topics used) — gen_cjk_titles.py's title() that also reports its parts."""
    target = rng.randint(10, 30)
    parts, topics = [], []
    if rng.random() < 0.7:
        parts.append(zipf_choice(rng, PLACES, 0.6))
    if rng.random() < 0.6:
        parts.append(zipf_choice(rng, ORGS, 0.6))
    parts.append("关于")
    parts.append(zipf_choice(rng, ACTIONS))
    doctype = zipf_choice(rng, DOCTYPES)
    while sum(map(len, parts)) + len(doctype) < target:
        r = rng.random()
        if r < 0.55:
            topics.append(zipf_choice(rng, TOPICS, 0.8))
            parts.append(topics[-1])
        elif r < 0.75:
            parts.append(zipf_choice(rng, QUALS))
        else:  # random project / entity name: 2-4 chars from the common set
            parts.append("".join(rng.choice(COMMON) for _ in range(rng.randint(2, 4))))
    parts.append(doctype)
    t = "".join(parts)
    return (t[:30] if len(t) > 30 else t), doctype, topics


def _fill(rng: random.Random, template: str, topic: str, doctype: str) -> str:
    return template.format(p=zipf_choice(rng, PLACES, 0.6), o=zipf_choice(rng, ORGS, 0.6),
                           a=zipf_choice(rng, ACTIONS), t=topic, u=zipf_choice(rng, TOPICS, 0.8),
                           q=zipf_choice(rng, QUALS), d=doctype, n=rng.randrange(10 ** 8), k=rng.randint(3, 40),
                           x=_name(rng), y=_name(rng))


def _name(rng: random.Random) -> str:
    """A random 2–4 character project / place name: the long tail of rare n-grams."""
    return "".join(rng.choice(COMMON) for _ in range(rng.randint(2, 4)))


# Columns written by COPY, in order (every NOT NULL column without a server default is here).
COLUMNS = ["id", "organ_id", "index_no", "title", "summary", "doc_number", "subject_category", "genre",
           "article20_item", "key_areas", "keywords", "written_date", "formed_on", "validity", "body", "attribute",
           "proposed_attribute", "withholding_grounds", "status", "classified", "classification_level",
           "published_at", "publication_due_provisional", "public_title", "public_summary", "public_body",
           "extra", "version", "created_at", "updated_at", "withdrawn_at"]

START = date(2015, 1, 1)
DAYS = (date(2025, 12, 31) - START).days


def document(i: int, n_total: int, organ_list: list[OrganRow], rng: random.Random,
             s2t: Any) -> tuple[Any, ...]:
    """Document number i of n_total; written dates rise with i (the table is physically in date order)."""
    t, doctype, topics = title(rng)
    topic = topics[0] if topics else zipf_choice(rng, TOPICS, 0.8)
    summary = _fill(rng, rng.choice(SUMMARY), topic, doctype)
    body_parts, length = [], 0
    target = rng.randint(100, 300)
    templates = BODY[1:-2]
    if rng.random() < 0.3:  # a notice (通知) to the organs below
        body_parts.append(BODY[0])
    while length < target:
        sentence = _fill(rng, zipf_choice(rng, templates, 0.2)[::1],
                         zipf_choice(rng, TOPICS, 0.8) if body_parts else topic, doctype)
        body_parts.append(sentence)
        length += len(sentence)
    body_parts.append(_fill(rng, BODY[-2], topic, doctype))
    body = "\n".join(body_parts)
    if rng.random() < 0.04:  # 繁體: folding must make these findable with Simplified queries and the reverse
        t, summary, body = s2t.convert(t), s2t.convert(summary), s2t.convert(body)
    organ = organ_list[min(len(organ_list) - 1, int(len(organ_list) * rng.random() ** 1.3))]
    written = START + timedelta(days=min(DAYS, int(DAYS * i / n_total) + rng.randint(0, 6)))
    year = written.year
    subject, area = TOPIC_AREA.get(topic, (rng.choice(SUBJECTS), None))
    key_areas = [area] if area else []
    if rng.random() < 0.1:
        extra_area = TOPIC_AREA[rng.choice(list(TOPIC_AREA))][1]
        if extra_area not in key_areas:
            key_areas.append(extra_area)
    keywords = list(dict.fromkeys([topic, *topics[1:2]]))
    r = rng.random()
    status, classified, attribute = "published", False, "proactive"
    if r < 0.04:
        status, attribute = "draft", None
    elif r < 0.05:
        status, attribute = "division_review", None
    elif r < 0.06:
        status, attribute = "withdrawn", "proactive"
    elif r < 0.07:
        status, classified, attribute = "approved", True, "withheld"
    elif r < 0.08:
        status, attribute = "approved", "on_request"
    published_at = (datetime(written.year, written.month, written.day, 2, tzinfo=UTC)
                    + timedelta(days=rng.randint(1, 15), minutes=rng.randrange(600))) \
        if status in ("published", "withdrawn") else None
    created = datetime(written.year, written.month, written.day, 1, tzinfo=UTC)
    doc = SimpleNamespace(title=t, summary=summary, body=body, doc_number=f"{organ.abbr}〔{year}〕{i % 997 + 1}号",
                          index_no=f"{organ.code}/{year}-{i:07d}", keywords=keywords)
    refresh_projection(doc, [])  # type: ignore[arg-type]  # duck-typed: only reads/sets these attributes
    r2 = rng.random()
    validity = "in_force" if r2 < 0.85 else "amended" if r2 < 0.92 else "repealed" if r2 < 0.97 else "expired"
    return (f"{i:08x}-0000-4000-8000-{rng.getrandbits(48):012x}", organ.id, doc.index_no, t, summary,
            doc.doc_number, subject, GENRE.get(doctype, "other"), "1", json.dumps(key_areas), json.dumps(keywords),
            written, written, validity, body, attribute, attribute, "[]", status, classified,
            "secret" if classified else None, published_at, False, doc.public_title, doc.public_summary,
            doc.public_body, "{}", 1, created, created,
            published_at + timedelta(days=30) if status == "withdrawn" else None)


def documents(start: int, stop: int, n_total: int, seed: int = 42) -> list[tuple[Any, ...]]:
    """Documents start..stop-1, reproducible per chunk (each chunk has its own seeded generator)."""
    rng = random.Random(seed * 1_000_003 + start)
    s2t = opencc.OpenCC("s2t")
    organ_list = organs()
    return [document(i, n_total, organ_list, rng, s2t) for i in range(start, stop)]
