"""Text folding for search: full-width → half-width (NFKC), Traditional → Simplified (OpenCC t2s), lower case.

Both the indexed text and the query are folded the same way, so `政務公開` finds `政务公开` and the reverse, and
`ＡＢＣ１２３` finds `abc123`. Punctuation and spacing are kept: a query is matched as a substring.
"""

import re
import unicodedata
from functools import lru_cache

import opencc

_t2s = opencc.OpenCC("t2s")
# Full-width forms (！ to ～, and the ideographic space) are replaced by what NFKC maps them to before the check below.
# Chinese text is full of ，：；（）, and NFKC-normalising a whole document because of its commas cost more than the
# rest of the folding; each of these decomposes to exactly one ASCII character, so the text with them replaced has
# the same NFKC form. A replace per distinct character found (a handful) is what is cheap in CPython: str.translate
# and re.sub with a callback both go character by character (or match by match) through Python.
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")


def _half_width(text: str) -> str:
    for char in set(_FULL_WIDTH.findall(text)):
        text = text.replace(char, " " if char == "\u3000" else chr(ord(char) - 0xFEE0))
    return text


def fold(text: str) -> str:
    if not text:
        return ""
    text = _half_width(text)
    if not unicodedata.is_normalized("NFKC", text):  # a quick check; the rest is usually NFKC already
        text = unicodedata.normalize("NFKC", text)
    return _t2s.convert(text).lower()


@lru_cache(maxsize=4096)
def fold_query(text: str) -> str:
    return " ".join(fold(text).split())
