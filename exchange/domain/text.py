"""Accent- and case-insensitive word matching for product searches (`q` on watches and lots).

The rule: every word of the query must be the *prefix* of some word of the product name, after
folding both (NFKD, combining marks dropped, casefold, ligatures œ/æ spelt out). Prefixes rather
than substrings so that "tomate" finds "Tomates cœur de bœuf" and "oeuf" finds "Œufs plein air",
while "oie" (goose) does not find "Chou de Savoie".
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that NFKD leaves whole although French readers treat them as two or as the plain letter.
_SPELL_OUT = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower-case, accent-free form of text, for comparisons that ignore case and accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.casefold().translate(_SPELL_OUT)


@lru_cache(maxsize=8192)
def words(text: str) -> tuple[str, ...]:
    """The folded words of text, in order (cached: product names and queries repeat)."""
    return tuple(_WORD.findall(fold(text)))


def q_matches(q: str | None, product: str) -> bool:
    """Whether every word of q starts some word of product (no words in q: everything matches)."""
    if not q:
        return True
    product_words = words(product)
    return all(any(pw.startswith(qw) for pw in product_words) for qw in words(q))
