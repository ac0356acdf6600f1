"""Which of the model's role families a ``role_family`` value names.

The contract's families are English codes (``catalogue.ROLE_FAMILIES``); Chinese exports often
say ``技术`` or ``研发类``. ``role_family_of`` reads the common Chinese names that mean
one family only; a name that could mean two (``工程``: tech or manufacturing,
``营销``: marketing or sales, ``职能``) stays unknown, and the model sees it as
missing. Stored values are never rewritten: this is read where features are built.
"""

from __future__ import annotations

import unicodedata

ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "tech": ("技术", "研发", "技术研发", "软件", "软件开发", "软件研发", "开发", "算法", "IT"),
    "product": ("产品", "产品经理"),
    "design": ("设计", "视觉设计", "交互设计", "UI设计", "UX设计"),
    "marketing": ("市场", "市场营销", "品牌", "市场推广"),
    "sales": ("销售",),
    "operations": ("运营",),
    "manufacturing": ("制造", "生产", "生产制造", "智能制造"),
}
# Words an export adds to the family's name: 技术类, 研发岗, 技术序列, 产品方向.
_TAILS = ("序列", "方向", "类", "岗", "族")
_FAMILY_OF = {
    name.casefold(): family for family, names in ROLE_NAMES.items() for name in (family, *names)
}


def _clean(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split()).casefold()


def role_family_of(value: object) -> str | None:
    """The contract's family ``value`` names (``技术`` -> ``tech``), or None if unknown."""
    if not isinstance(value, str):
        return None
    text = _clean(value)
    if text in _FAMILY_OF:
        return _FAMILY_OF[text]
    for tail in _TAILS:
        if text.endswith(tail) and text.removesuffix(tail) in _FAMILY_OF:
            return _FAMILY_OF[text.removesuffix(tail)]
    return None
