"""A deterministic corpus of realistic 政务公开 documents and a judged query set for the relevance benchmark
(scripts/bench_relevance.py, issue 12).

Corpus (≥ 5,000 records):
- the 18 seed documents (Simplified and Traditional) as they are, and their sections cut into documents of their own
  (a heading such as “二、政府信息主动公开情况” with its paragraphs, titled the way organs title such excerpts);
- generated records with real vocabulary: places with their 文号 abbreviations (广州 → 穗), organs with the
  abbreviations people use (发展和改革委员会 → 发改委), topics with their short forms (公共租赁住房 → 公租房),
  document types, years, actions; titles in the shapes organs use (“关于印发《…》的通知”, “关于…的实施意见”),
  bodies from sentence templates that mention other topics too (distractors), 文号 on most records, and
  application guides (申请指南) that answer questions such as “公租房怎么申请”.

Judged queries (≥ 200, more than half typed the way people type): each names the documents that answer it
(`relevant`, by external id). Styles: `title` (the exact title, control), `spaced` (terms with spaces, today's
syntax), and the natural ones — `short` (place + topic + type, no spaces, function words dropped), `doc_number`
(文号 with other brackets, full-width digits, 第), `traditional` (繁体), `abbreviation` (发改委, 公租房, 社保, 年报),
`question` (…怎么申请, …的条件), `punctuation` (stray spaces, 《》, half-width commas) and the four queries of the
issue itself (`issue`).

    python scripts/relevance/corpus.py --write   # rewrites scripts/relevance/judged_queries.jsonl
"""

import json
import random
import re
import sys
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SEED_FILE = ROOT / "catalog_service" / "demo_data" / "seed_documents.jsonl"
JUDGED_FILE = HERE / "judged_queries.jsonl"
SEED = 20261206
CORPUS_SIZE = 5_200

# (place, 文号 abbreviation)
PLACES = [("广州市", "穗"), ("北京市", "京"), ("上海市", "沪"), ("深圳市", "深"), ("杭州市", "杭"), ("成都市", "成"),
          ("武汉市", "武"), ("南京市", "宁"), ("西安市", "西"), ("长沙市", "长"), ("郑州市", "郑"), ("济南市", "济"),
          ("青岛市", "青"), ("福州市", "榕"), ("厦门市", "厦"), ("昆明市", "昆"), ("合肥市", "合"), ("南昌市", "洪"),
          ("贵阳市", "筑"), ("苏州市", "苏"), ("无锡市", "锡"), ("宁波市", "甬"), ("温州市", "温"), ("大庆市", "庆"),
          ("鹤壁市", "鹤"), ("佛山市", "佛"), ("东莞市", "莞"), ("珠海市", "珠"), ("海口市", "海"), ("兰州市", "兰"),
          ("阿勒泰地区", "阿"), ("天河区", "天"), ("海淀区", "海淀"), ("余杭区", "余")]
# (organ, 文号 abbreviation, what people call it)
ORGANS = [("人民政府", "府", []), ("人民政府办公厅", "府办", ["政府办公厅", "市府办"]),
          ("人民政府办公室", "政办", ["政府办"]), ("发展和改革委员会", "发改", ["发改委"]),
          ("教育局", "教", ["教育部门"]), ("财政局", "财", []), ("人力资源和社会保障局", "人社", ["人社局"]),
          ("住房和城乡建设局", "建", ["住建局"]), ("卫生健康委员会", "卫健", ["卫健委"]),
          ("市场监督管理局", "市监", ["市监局", "市场监管局"]), ("生态环境局", "环", ["环保局"]),
          ("交通运输局", "交", ["交通局"]), ("农业农村局", "农", ["农业局"]), ("医疗保障局", "医保", ["医保局"]),
          ("自然资源和规划局", "自然资源", ["规划局"]), ("民政局", "民", []), ("应急管理局", "应急", ["应急局"])]
# (topic, what people call it)
TOPICS = [("公共租赁住房", ["公租房"]), ("社会保险", ["社保"]), ("最低生活保障", ["低保"]), ("义务教育", []),
          ("政府信息公开年度报告", ["信息公开年报", "年报"]), ("老旧小区改造", ["旧改"]), ("营商环境", []),
          ("安全生产", []), ("乡村振兴", []), ("生活垃圾分类", ["垃圾分类"]), ("医疗保障", ["医保"]),
          ("就业创业", []), ("养老服务", []), ("食品安全", []), ("财政预算", ["预算"]), ("政府采购", []),
          ("行政许可", []), ("行政处罚", []), ("双随机一公开", []), ("河长制", []), ("防汛抗旱", ["防汛"]),
          ("森林防火", []), ("耕地保护", []), ("人才引进", []), ("科技创新", []), ("中小企业发展", ["中小企业"]),
          ("学前教育", ["幼儿园"]), ("职业技能培训", ["技能培训"]), ("残疾人帮扶", []), ("退役军人服务", []),
          ("住房公积金", ["公积金"]), ("城乡居民基本医疗保险", ["居民医保"]), ("新能源汽车推广应用", ["新能源车"]),
          ("农村人居环境整治", []), ("政务服务", []), ("数字政府建设", ["数字政府"]), ("大气污染防治", []),
          ("重大行政决策", []), ("政务公开", []), ("城市更新", [])]
# Topics a citizen applies for: each gets one application guide per place at most (question queries).
APPLY = {"公共租赁住房", "最低生活保障", "住房公积金", "社会保险", "残疾人帮扶", "人才引进", "职业技能培训",
         "新能源汽车推广应用", "城乡居民基本医疗保险", "养老服务"}
# (document type, genre code of the catalogue)
DOCTYPES = [("通知", "notice"), ("实施意见", "opinion"), ("管理办法", "measures"), ("实施方案", "plan"),
            ("工作要点", "plan"), ("暂行办法", "measures"), ("实施细则", "rules"), ("公告", "announcement"),
            ("通告", "bulletin"), ("决定", "decision"), ("规划", "planning"), ("工作报告", "report"),
            ("批复", "reply"), ("行动计划", "plan")]
ACTIONS = ["进一步加强", "进一步做好", "全面推进", "深化", "规范", "加快推进", "切实做好", "扎实推进", "优化"]
QUALS = ["工作", "管理", "试点", "专项行动", "三年行动", "考核", "监督检查", "资金管理", "实施"]
BODY_SENTENCES = [
    "为深入贯彻落实党中央、国务院关于{t}的决策部署，{a}{t}工作，结合本{pk}实际，制定本{d}。",
    "一、总体要求。坚持以人民为中心，{a}{t}，统筹推进{u}，到{y2}年{t}工作机制基本健全。",
    "二、主要任务。各单位要围绕{t}{q}，建立健全{u}工作机制，按季度向{o}报送进展情况。",
    "三、保障措施。{o}负责统筹协调，财政部门做好经费保障，审计部门加强对{u}资金的监督检查。",
    "四、信息公开。各单位应当依法主动公开{t}有关信息，对{u}事项实行清单管理，接受社会监督。",
    "截至{y}年底，全{pk}累计完成{t}任务{n}项，{u}工作稳步推进。",
    "对{t}中存在的问题，{o}已督促限期整改，整改结果将及时向社会公布。",
    "本{d}由{p}{o}负责解释，自印发之日起施行，有效期五年。",
]
GUIDE_SENTENCES = [
    "一、申请条件。具有本{pk}户籍或者在本{pk}连续缴纳社会保险满一年的居民，符合{t}有关规定的，可以申请。",
    "二、申请材料。申请人应当提交申请表、居民身份证、户口簿以及{t}有关证明材料的原件和复印件。",
    "三、办理流程。申请人可以通过{p}政务服务网在线申请，也可以到街道便民服务中心窗口办理，受理后二十个工作日内办结。",
    "四、咨询方式。{p}{o}{t}咨询电话：12345。",
]
ISSUE_EXTRA = [  # meant documents of the issue's own example queries that the seed documents do not hold
    {"external_id": "apply-guide-guangzhou", "title": "广州市依申请公开政府信息办法",
     "doc_number": "穗府办〔2008〕61号", "genre": "measures", "year": 2008, "place": "广州市", "organ": "人民政府办公厅",
     "topic": "政务公开",
     "body": "第一条 为了规范依申请公开政府信息工作，保障公民、法人和其他组织依法获取政府信息，制定本办法。\n"
             "第二条 公民、法人或者其他组织向行政机关申请获取政府信息的，应当采用书面形式（包括数据电文形式），"
             "通过政府网站在线申请、信函、传真或者到行政机关受理点当面提交申请。\n"
             "第三条 申请内容应当包括申请人的姓名或者名称、身份证明、联系方式，申请公开的政府信息的名称、文号"
             "或者便于查询的其他特征性描述，以及获取信息的方式。\n"
             "第四条 行政机关收到申请后能够当场答复的，应当当场予以答复；不能当场答复的，自收到申请之日起二十个"
             "工作日内予以答复。"},
]


def fold(text: str) -> str:
    """NFKC and lower case: what Lucene's cjk analyzer also does (CJKWidthFilter, LowerCaseFilter)."""
    import unicodedata
    return unicodedata.normalize("NFKC", text).lower()


@dataclass
class Record:
    external_id: str
    title: str
    body: str
    genre: str
    year: int
    place: str = ""
    organ: str = ""
    topic: str = ""
    doctype: str = ""
    doc_number: str | None = None
    summary: str | None = None
    keywords: list[str] = field(default_factory=list)
    guide: bool = False

    def api(self) -> dict:
        """The record as POST /documents/bulk takes it (published on import: review concluded 主动公开)."""
        h = zlib.crc32(self.external_id.encode())  # deterministic across runs (hash() is salted per process)
        d = date(self.year, 1 + h % 12, 1 + (h >> 8) % 28)
        record = {"external_id": self.external_id, "title": self.title, "body": self.body, "genre": self.genre,
                  "summary": self.summary, "doc_number": self.doc_number, "keywords": self.keywords,
                  "written_date": d.isoformat(), "formed_on": d.isoformat(), "proposed_attribute": "proactive",
                  "review": {"reviewer": "基准审查", "reviewed_on": d.isoformat(), "conclusion": "proactive"}}
        return {k: v for k, v in record.items() if v not in (None, [])}


def _seed_records() -> list[Record]:
    out = []
    for n, line in enumerate(SEED_FILE.read_text(encoding="utf-8").splitlines()):
        s = json.loads(line)
        year = int((s["published_date"] or s["written_date"] or "2022")[:4])
        organ = s["issuing_organ"] or ""
        out.append(Record(f"seed-{n:02d}", s["title"], s["body"], {"通知": "notice", "方案": "plan",
                          "报告": "report"}.get(s["genre"], "other"), year, doc_number=s["doc_number"],
                          summary=s["body"][:120], organ=organ))
        # Sections as documents of their own: the heading and its paragraphs.
        parts = re.split(r"\n(?=[一二三四五六七八九十]+、)", s["body"])
        for k, part in enumerate(parts[1:], start=1):
            heading = part.split("\n", 1)[0].strip()
            if len(heading) > 30 or len(part) < 200:
                continue
            name = re.sub(r"^[一二三四五六七八九十]+、", "", heading).rstrip("。，,")
            owner = organ or "某市人民政府"
            out.append(Record(f"seed-{n:02d}-{k}", f"{owner}{year}年{name}", part, "report", year,
                              summary=part[:100], organ=owner))
    return out


def _generated(rng: random.Random, count: int) -> list[Record]:
    out: list[Record] = []
    seen: set[tuple[str, str, str]] = set()
    numbers: dict[tuple[str, str, int], int] = {}
    guides: set[tuple[str, str]] = set()
    while len(out) < count:
        p, pabbr = rng.choice(PLACES)
        o, oabbr, _ = rng.choice(ORGANS)
        t, _ = rng.choice(TOPICS)
        guide = t in APPLY and (p, t) not in guides and rng.random() < 0.35
        d, genre = ("申请指南", "other") if guide else rng.choice(DOCTYPES)
        if (p, t, d) in seen:
            continue
        seen.add((p, t, d))
        if guide:
            guides.add((p, t))
        y = rng.randint(2012, 2026)
        a, q = rng.choice(ACTIONS), rng.choice(QUALS)
        u = rng.choice([x for x, _ in TOPICS if x != t])
        shape = rng.randrange(4)
        if guide:
            title = f"{p}{t}申请指南"
        elif d in ("通知",):
            title = f"{p}{o}关于{a}{t}{q}的通知"
        elif shape == 0:
            title = f"{p}{o}关于印发《{p}{t}{d}》的通知"
        elif shape == 1:
            title = f"{p}{o}关于{a}{t}的{d}"
        elif shape == 2:
            title = f"{p}{t}{q}{d}"
        else:
            title = f"{y}年{p}{t}{d}"
        key = (pabbr, oabbr, y)
        numbers[key] = numbers.get(key, 0) + rng.randint(1, 9)
        doc_number = f"{pabbr}{oabbr}〔{y}〕{numbers[key]}号" if rng.random() < 0.7 and not guide else None
        pk = p[-1]
        values = {"p": p, "pk": pk, "o": o, "t": t, "u": u, "a": a, "q": q, "d": d, "y": y, "y2": y + 3,
                  "n": rng.randint(12, 980)}
        sentences = GUIDE_SENTENCES if guide else rng.sample(BODY_SENTENCES, k=rng.randint(4, len(BODY_SENTENCES)))
        body = "\n".join(s.format(**values) for s in sentences)
        summary = (f"{p}{o}就{t}有关事项作出规定，明确{q}任务和责任分工。" if not guide
                   else f"{p}{t}的申请条件、申请材料和办理流程。")
        out.append(Record(f"gen-{len(out):05d}", title, body, genre, y, place=p, organ=o, topic=t, doctype=d,
                          doc_number=doc_number, summary=summary, keywords=[t], guide=guide))
    return out


def build_corpus(size: int = CORPUS_SIZE) -> list[Record]:
    rng = random.Random(SEED)
    records = _seed_records()
    for extra in ISSUE_EXTRA:
        records.append(Record(extra["external_id"], extra["title"], extra["body"], extra["genre"], extra["year"],
                              place=extra["place"], organ=extra["organ"], topic=extra["topic"],
                              doc_number=extra["doc_number"], summary=extra["body"][:100]))
    records += _generated(rng, size - len(records))
    return records


# ---- the judged queries ------------------------------------------------------------------------------------------

BRACKETS = [("(", ")"), ("（", "）"), ("[", "]"), ("【", "】"), ("［", "］"), ("〔", "〕")]
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def doc_number_variant(number: str, rng: random.Random) -> str:
    m = re.match(r"^(.*?)〔(\d{4})〕(\d+)号$", number)
    assert m, number
    left, right = rng.choice(BRACKETS[:-1])
    year, serial = m.group(2), m.group(3)
    if rng.random() < 0.3:
        year, serial = year.translate(FULLWIDTH), serial.translate(FULLWIDTH)
    return f"{m.group(1)}{left}{year}{right}{'第' if rng.random() < 0.3 else ''}{serial}号"


def build_queries(records: list[Record]) -> list[dict]:
    import opencc
    s2t = opencc.OpenCC("s2t")
    rng = random.Random(SEED + 1)
    gen = [r for r in records if r.external_id.startswith("gen-")]
    by_place_topic: dict[tuple[str, str], list[str]] = {}
    for r in gen:
        by_place_topic.setdefault((r.place, r.topic), []).append(r.external_id)
    queries: list[dict] = []

    def add(style: str, q: str, relevant: list[str]) -> None:
        queries.append({"id": f"q{len(queries) + 1:03d}", "style": style, "query": q, "relevant": relevant,
                        "natural": style not in ("title", "spaced")})

    plain = [r for r in gen if not r.guide]
    targets = rng.sample(plain, 260)
    for r in targets[:40]:
        add("title", r.title, [r.external_id])
    for r in targets[40:85]:
        add("short", f"{r.place}{r.topic}{r.doctype}", [r.external_id])
    numbered = [r for r in targets[85:200] if r.doc_number][:40]
    for r in numbered:
        add("doc_number", doc_number_variant(r.doc_number, rng), [r.external_id])
    for r in targets[200:230]:
        add("traditional", s2t.convert(f"{r.place}{r.topic}{r.doctype}"), [r.external_id])
    abbreviated = 0
    for r in plain:
        if abbreviated >= 30:
            break
        topic_short = dict(TOPICS)[r.topic]
        organ_short = next(o[2] for o in ORGANS if o[0] == r.organ)
        if organ_short and r.organ in r.title and rng.random() < 0.5:
            add("abbreviation", f"{r.place}{rng.choice(organ_short)}{r.topic}{r.doctype}", [r.external_id])
            abbreviated += 1
        elif topic_short:
            add("abbreviation", f"{r.place}{rng.choice(topic_short)}{r.doctype}", [r.external_id])
            abbreviated += 1
    guides = [r for r in gen if r.guide]
    for r in rng.sample(guides, min(30, len(guides))):
        short = dict(TOPICS)[r.topic]
        topic = rng.choice(short) if short and rng.random() < 0.5 else r.topic
        shape = rng.choice(["{p}{t}怎么申请", "{p}{t}的申请条件", "{p}如何申请{t}", "{p}{t}需要什么材料",
                            "在{p}怎么办理{t}"])
        add("question", shape.format(p=r.place, t=topic), [r.external_id])
    for r in targets[230:255]:
        words = re.sub(r"(关于|印发|的)", " ", r.title).split()
        shape = rng.randrange(3)
        q = " ".join(words) if shape == 0 else (f"《{r.place}{r.topic}{r.doctype}》" if shape == 1
                                                else f"{r.place}，{r.topic}，{r.doctype}")
        add("punctuation", q, [r.external_id])
    for (place, topic), ids in list(by_place_topic.items())[:25]:
        add("spaced", f"{place} {topic}", ids)
    add("issue", "阿勒泰地区政务公开实施方案", ["seed-15"])
    add("issue", "大庆市政务公开通知", ["seed-14"])
    add("issue", "穗府办(2011)8号", ["seed-00"])
    add("issue", "依申请公开怎么申请", ["apply-guide-guangzhou"])
    seeds = {r.external_id: r for r in records if r.external_id.startswith("seed-") and "-" not in r.external_id[5:]}
    for ext in ("seed-13", "seed-14", "seed-15"):
        add("doc_number", doc_number_variant(seeds[ext].doc_number, rng), [ext])
    add("traditional", "廣州市政府信息公開工作安排", ["seed-16"])
    add("short", "黄埔区信息公开年度报告2012", ["seed-17"])
    add("abbreviation", "黄埔区2012年信息公开年报", ["seed-17"])
    add("short", "鹤壁市政务公开通知", ["seed-13"])
    return queries


def main() -> int:
    if "--write" not in sys.argv:
        print(__doc__)
        return 2
    records = build_corpus()
    queries = build_queries(records)
    with JUDGED_FILE.open("w", encoding="utf-8") as out:
        for q in queries:
            out.write(json.dumps(q, ensure_ascii=False) + "\n")
    natural = sum(q["natural"] for q in queries)
    print(f"{len(records)} records, {len(queries)} queries ({natural} natural) → {JUDGED_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
