"""检索式理解 · query understanding: the raw query of a search turned into what the engine should look for.

Independent of the engine: today's substring planner (domain/search.py) uses the terms as AND conditions with OR'ed
alternatives; a ranking engine can use the same words, phrases, 文号 and synonyms as its query terms.

Steps, on the folded query (textfold: NFKC, 繁→简, lower case):

1. 引号短语 quoted phrases ("…", “…”, 「…」, 『…』) are kept whole: one exact substring term each, no segmentation,
   no synonyms.
2. 文号 in any bracket style (〔〕 [] 【】 () （） ［］ 〖〗, full-width digits, with or without 第,
   e.g. `穗府办(2011)8号`, `穗府办［2011］第8号`) → the canonical `穗府办〔2011〕8号` (canonical_doc_number).
   A record matches it when its folded text contains the canonical form (or the 文号 as typed) or its stored 文号
   has that canonical key (Document.doc_number_key); such records rank first.
3. 索引号 recognised by the configured template (config.index_no_template) → an exact-hit term, ranked first.
4. The rest is cut into words with jieba (precise mode), its dictionary extended with a few domain words
   (DOMAIN_WORDS) and the catalogue's own vocabulary: organ names and short names, synonym entries (Vocabulary).
   Function words of questions (FUNCTION_WORDS, FUNCTION_SEQUENCES) and punctuation are dropped and reported;
   a single character left alone is joined to its neighbour — the word after it (`依`+`申请` → `依申请`), or the one
   before it for SUFFIX_CHARACTERS (`2023`+`年` → `2023年`): alone it would match almost anything. A word
   contained in another word of the query is implied by it and dropped.
5. 同义词 synonyms: a word that is a form of an entry of the admin-managed dictionary (domain/synonyms.py) matches
   any form of that entry, and a word containing a form matches it with the form replaced (住建局 → 住房和城乡建设局):
   applied at query time, so an edit needs no reindexing.

A query (or a whitespace-separated part of it) of 1–2 characters is kept as today: one substring term.
A query that leaves nothing after this (only function words, only punctuation) falls back to its whitespace terms,
so a non-empty query never becomes "everything".
"""

import functools
import logging
import re
import string
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from catalog_service.textfold import fold, fold_query
from catalog_service.vocab import KeyArea, SubjectCategory

__all__ = ["DOMAIN_WORDS", "EMPTY_VOCABULARY", "FUNCTION_SEQUENCES", "FUNCTION_WORDS", "SUFFIX_CHARACTERS", "Term",
           "UnderstoodQuery", "Vocabulary", "canonical_doc_number", "index_no_pattern", "understand", "warm_up"]

# 疑问虚词 · function words of questions, dropped as whole jieba tokens: they say how people ask, not what about.
FUNCTION_WORDS = frozenset({
    "请问", "我想", "我要", "想要", "想", "请", "怎么", "怎么样", "怎样", "如何", "什么", "哪些", "哪里", "哪儿",
    "哪个",
    "吗", "呢", "吧", "啊", "呀", "么", "是否", "能否", "可以", "是", "的", "了", "在",
})
# A lone character left by the segmenter joins the word before it when it is one of these (2023年, 医保局, 市委),
# otherwise the word after it (依申请, 公租房, 住建局): names of organs, dates and numbers end with them.
SUFFIX_CHARACTERS = frozenset("年月日号局委办厅处科室站所院市区县省镇乡村街费率等类")
# Token sequences dropped together (`公租房申请的条件` → 公租房 申请): the condition is what every guide describes.
FUNCTION_SEQUENCES = (("的", "条件"), ("有", "哪些"), ("需要", "什么"), ("要", "什么"))
# Words of the domain jieba's general dictionary cuts in two (乡村振兴 → 乡村/振兴, 安全生产 → 安全/生产): kept
# whole, they find what the words alone would find only among many others — with the 主题 terms of the catalogue's
# own classifications: the 重点领域 (KeyArea) and the parts of the 主题分类 (SubjectCategory) names.
DOMAIN_WORDS = tuple(dict.fromkeys((
    "政务公开", "信息公开", "政府信息公开", "依申请公开", "主动公开", "乡村振兴", "三公经费", "实施方案", "工作要点",
    "年度报告", "营商环境", "放管服",
    *(area.zh for area in KeyArea if len(area.zh) > 2),
    *(part for category in SubjectCategory for part in category.zh.split("、") if len(part) > 2))))

_BRACKETS_OPEN = "〔[【(（［〖"
_BRACKETS_CLOSE = "〕]】)）］〗"
# After folding: full-width digits and （）［］ are half-width already. The prefix is the run of CJK characters before
# the bracket (机关代字), without a lead-in such as 关于/印发/根据.
_DOC_NUMBER = re.compile(
    rf"([\u4e00-\u9fff]{{1,16}})\s*[{re.escape(_BRACKETS_OPEN)}]\s*(\d{{4}})\s*[{re.escape(_BRACKETS_CLOSE)}]"
    r"\s*第?\s*(\d{1,6})\s*号")
_LEAD_INS = ("关于印发", "关于", "印发", "根据", "按照", "依据", "转发")
_QUOTES = re.compile(r'"([^"]+)"|“([^”]+)”|「([^」]+)」|『([^』]+)』')
_CONTENT = re.compile(r"[^\W_]")  # a letter, digit or CJK character
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def canonical_doc_number(text: str | None) -> str | None:
    """The canonical form of a 文号 (`穗府办〔2011〕8号`) if `text` is one, else its folded text without spaces
    (a 文号 of another shape still compares exactly). None for no 文号."""
    if not text:
        return None
    folded = fold(text)
    m = _DOC_NUMBER.fullmatch(folded.strip())
    if m:
        return f"{m.group(1)}〔{m.group(2)}〕{int(m.group(3))}号"
    return "".join(folded.split()) or None


@functools.lru_cache(maxsize=8)
def index_no_pattern(template: str) -> re.Pattern[str]:
    """A regex for 索引号 made from the template (`{organ_code}/{year}-{serial:05d}`), on folded (lower case)
    text: organ_code 18 letters/digits (统一社会信用代码), year 4 digits, serial at least its padded width."""
    parts = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        parts.append(re.escape(fold(literal)))
        if name is None:
            continue
        if name == "organ_code":
            parts.append(r"[0-9a-z]{18}")
        elif name == "year":
            parts.append(r"\d{4}")
        elif name == "serial":
            width = re.search(r"(\d+)d", spec or "")
            parts.append(rf"\d{{{int(width.group(1)) if width else 1},}}")
        else:
            parts.append(r"[0-9a-z]+")
    return re.compile(r"(?<![0-9a-z])" + "".join(parts) + r"(?![0-9a-z])")


@dataclass(frozen=True)
class Term:
    """One AND condition: the record contains one of `alternatives` (folded substrings; `text` is the first), or
    its 文号 key is `doc_number`, or its 索引号 is `index_no`."""

    text: str
    alternatives: tuple[str, ...]
    doc_number: str | None = None
    index_no: str | None = None


@dataclass(frozen=True)
class UnderstoodQuery:
    folded: str
    terms: tuple[Term, ...] = ()
    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    doc_numbers: tuple[str, ...] = ()
    index_nos: tuple[str, ...] = ()
    synonyms_used: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()

    @property
    def substrings(self) -> list[str]:
        """Every string a matching record may contain (for highlighting)."""
        return list(dict.fromkeys(a for t in self.terms for a in t.alternatives))


@dataclass(frozen=True)
class Vocabulary:
    """The catalogue's own words (organ names and short names, synonym forms) and the synonym groups, folded,
    as of dictionary `version` (domain/synonyms.py)."""

    version: int = 0
    words: frozenset[str] = frozenset()
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # form → every form of its entries

    @classmethod
    def build(cls, version: int, words: Iterable[str], groups: Iterable[Iterable[str]]) -> "Vocabulary":
        synonyms: dict[str, list[str]] = {}
        all_words = {fold_query(w) for w in words if w and w.strip()}
        for group in groups:
            forms = list(dict.fromkeys(fold_query(w) for w in group if w and w.strip()))
            all_words.update(forms)
            for form in forms:
                synonyms.setdefault(form, [form])
                synonyms[form] += [f for f in forms if f not in synonyms[form]]
        return cls(version=version, words=frozenset(w for w in all_words if " " not in w),
                   synonyms={k: tuple(v) for k, v in synonyms.items()})


EMPTY_VOCABULARY = Vocabulary()


# ---------------------------------------------------------------------------------------------- segmentation

class _Segmenter:
    """One jieba tokenizer per process, loaded on first use (~1 s), its dictionary extended with DOMAIN_WORDS and
    every vocabulary seen. Words of a vocabulary that are gone (a deleted synonym, a renamed organ) are removed
    again (del_word). jieba's dictionary is process-wide state: several catalogue databases in one process (tests)
    share it, which changes only where words are cut, never what a term matches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer = None
        self._added: set[str] = set()
        self._version: tuple[int, int] | None = None

    def _load(self):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        for word in DOMAIN_WORDS:
            tokenizer.add_word(word)
        return tokenizer

    def cut(self, text: str, vocabulary: Vocabulary) -> list[str]:
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = self._load()
            key = (id(vocabulary), vocabulary.version)
            # The empty vocabulary (callers that only normalise a query, e.g. a saved search's feed URL) cuts with
            # whatever the process has loaded: switching the dictionary away and back for them re-added every
            # organ name and synonym twice per search (~0.3 s at 600 words: measured by the relevance bench).
            if key != self._version and vocabulary is not EMPTY_VOCABULARY:
                for word in self._added - vocabulary.words:
                    if word not in DOMAIN_WORDS:
                        self._tokenizer.del_word(word)
                for word in vocabulary.words - self._added:
                    self._tokenizer.add_word(word)
                self._added = set(vocabulary.words)
                self._version = key
            return self._tokenizer.lcut(text)


_segmenter = _Segmenter()


def warm_up() -> None:
    """Load jieba's dictionary now (~1 s, in a worker thread at startup) rather than in the first search."""
    _segmenter.cut("政务公开", EMPTY_VOCABULARY)


def _content_words(text: str, vocabulary: Vocabulary, dropped: list[str]) -> list[str]:
    """Words of a whitespace-free piece of folded text, function words and punctuation removed, lone characters
    joined to a neighbour they were next to."""
    tokens = [t for t in _segmenter.cut(text, vocabulary) if t.strip()]
    keep = [True] * len(tokens)
    for seq in FUNCTION_SEQUENCES:
        for i in range(len(tokens) - len(seq) + 1):
            if tuple(tokens[i:i + len(seq)]) == seq:
                for j in range(i, i + len(seq)):
                    keep[j] = False
    for i, token in enumerate(tokens):
        if token in FUNCTION_WORDS and token not in vocabulary.words:
            keep[i] = False
    for i, token in enumerate(tokens):
        if not keep[i] and _CONTENT.search(token):
            dropped.append(token)
    # Runs of kept, adjacent content tokens; a lone CJK character joins its neighbour within the run.
    runs: list[list[str]] = [[]]
    for i, token in enumerate(tokens):
        if keep[i] and _CONTENT.search(token):
            runs[-1].append(token)
        elif runs[-1]:
            runs.append([])
    words: list[str] = []
    for run in runs:
        merged: list[str] = []
        pending = ""  # a lone character waiting to prefix the next token (依+申请, 公+租房, 住+建局)
        for i, token in enumerate(run):
            token = pending + token
            pending = ""
            if len(token) == 1 and _CJK.match(token):
                if merged and (token in SUFFIX_CHARACTERS or i == len(run) - 1):  # 2023+年, 医保+局
                    merged[-1] += token
                    continue
                if i < len(run) - 1:
                    pending = token
                    continue
            merged.append(token)
        words += merged
    return words


# ---------------------------------------------------------------------------------------------- understanding

def understand(q: str | None, vocabulary: Vocabulary = EMPTY_VOCABULARY,
               index_no_re: re.Pattern[str] | None = None) -> UnderstoodQuery:
    folded = fold_query(q) if q else ""
    if not folded:
        return UnderstoodQuery(folded="")
    if len("".join(folded.split())) <= 2:  # 1–2 characters: as before, the query itself
        return _with_synonyms(folded, [Term(t, (t,)) for t in dict.fromkeys(folded.split())], [], vocabulary)

    terms: list[Term] = []
    phrases: list[str] = []
    doc_numbers: list[str] = []
    index_nos: list[str] = []
    dropped: list[str] = []

    def cut_out(pattern: re.Pattern[str], text: str, found) -> str:
        return pattern.sub(lambda m: (found(m), " ")[1], text)

    def phrase(m: re.Match[str]) -> None:
        p = " ".join(next(g for g in m.groups() if g is not None).split())
        if p:
            phrases.append(p)
            terms.append(Term(p, (p,)))

    def doc_number(m: re.Match[str]) -> None:
        prefix = m.group(1)
        for lead in _LEAD_INS:
            if prefix.startswith(lead) and len(prefix) > len(lead):
                prefix = prefix[len(lead):]
                break
        canonical = f"{prefix}〔{m.group(2)}〕{int(m.group(3))}号"
        doc_numbers.append(canonical)
        raw = "".join(m.group(0).split())
        terms.append(Term(canonical, tuple(dict.fromkeys((canonical, raw))), doc_number=canonical))

    def index_no(m: re.Match[str]) -> None:
        index_nos.append(m.group(0).upper())
        terms.append(Term(m.group(0), (m.group(0),), index_no=m.group(0)))

    rest = cut_out(_QUOTES, folded, phrase)
    rest = cut_out(_DOC_NUMBER, rest, doc_number)
    if index_no_re is not None:
        rest = cut_out(index_no_re, rest, index_no)
    words: list[str] = []
    for chunk in rest.split():
        if len(chunk) <= 2:  # as typed (a lone punctuation mark is left to the fallback below)
            if _CONTENT.search(chunk):
                words.append(chunk)
            continue
        words += _content_words(chunk, vocabulary, dropped)
    words = list(dict.fromkeys(words))
    # A word inside another word (or phrase, or 文号) of the query is implied by it, unless synonyms make it wider.
    longer = words + [t.text for t in terms]
    words = [w for w in words if w in vocabulary.synonyms or not any(w != o and w in o for o in longer)]
    if not words and not terms:  # nothing but function words or punctuation: the query as typed
        words = list(dict.fromkeys(folded.split()))
        dropped = []
    understood = _with_synonyms(folded, terms + [Term(w, (w,)) for w in words], dropped, vocabulary)
    return UnderstoodQuery(folded=folded, terms=understood.terms, words=tuple(words), phrases=tuple(phrases),
                           doc_numbers=tuple(doc_numbers), index_nos=tuple(index_nos),
                           synonyms_used=understood.synonyms_used, dropped=tuple(dict.fromkeys(dropped)))


def _expansions(word: str, vocabulary: Vocabulary) -> tuple[str, ...]:
    """The other forms of a word: of the word itself, else of the longest form of an entry inside it, replaced in
    place (住建局 → 住房和城乡建设局 with the entry 住建 / 住房和城乡建设): a suffix joined to a word keeps its
    synonyms."""
    if word in vocabulary.synonyms:
        return tuple(f for f in vocabulary.synonyms[word] if f != word)
    inner = max((f for f in vocabulary.synonyms if len(f) >= 2 and f in word), key=len, default=None)
    if inner is None:
        return ()
    return tuple(word.replace(inner, f) for f in vocabulary.synonyms[inner] if f != inner)


def _with_synonyms(folded: str, terms: list[Term], dropped: list[str], vocabulary: Vocabulary) -> UnderstoodQuery:
    """Alternatives from the synonym dictionary for plain words (not phrases, 文号 or 索引号)."""
    out: list[Term] = []
    used: dict[str, tuple[str, ...]] = {}
    for term in terms:
        plain = len(term.alternatives) == 1 and not (term.doc_number or term.index_no)
        forms = _expansions(term.text, vocabulary) if plain else ()
        if forms:
            used[term.text] = forms
            term = Term(term.text, (term.text, *forms))
        out.append(term)
    plain = tuple(t.text for t in out if not (t.doc_number or t.index_no))
    return UnderstoodQuery(folded=folded, terms=tuple(out), words=plain, synonyms_used=used,
                           dropped=tuple(dropped))
