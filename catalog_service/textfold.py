"""Text folding for search: full-width → half-width (NFKC), Traditional → Simplified (OpenCC t2s), lower case.

Both the indexed text and the query are folded the same way, so `政務公開` finds `政务公开` and the reverse, and
`ＡＢＣ１２３` finds `abc123`. Punctuation and spacing are kept: a query is matched as a substring.
"""

import unicodedata
from functools import lru_cache

import opencc

_t2s = opencc.OpenCC("t2s")


def fold(text: str) -> str:
    if not text:
        return ""
    if not unicodedata.is_normalized("NFKC", text):  # a quick check; most text is already NFKC
        text = unicodedata.normalize("NFKC", text)
    return _t2s.convert(text).lower()


@lru_cache(maxsize=4096)
def fold_query(text: str) -> str:
    return " ".join(fold(text).split())
