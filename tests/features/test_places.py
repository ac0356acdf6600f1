"""Cities compared by the place they name, role families by the family they name.

``上海`` and ``上海市`` are one city; ``技术`` is the tech family. Stored values stay as
written; what cannot be read is warned about at ingest, with counts.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from features.build import build_features
from features.catalogue import FEATURE_NAMES, ROLE_FAMILIES
from features.places import Place, city_key, place_city
from features.roles import ROLE_NAMES, role_family_of
from store.ingest import ingest_bundle
from store.schema import Candidate
from tests.conftest import SAMPLE
from training.fairness import REGIONS, home_region
from training.model import DropoutClassifier
from training.predictor import Predictor

SHANGHAI = [
    "上海",
    "上海市",
    "Shanghai",
    "SHANGHAI",
    "shang hai",
    "上海 市",
    "上海市\u3000",
    "Ｓｈａｎｇｈａｉ",
]


@pytest.mark.parametrize("name", SHANGHAI)
def test_spellings_of_shanghai_are_one_place(name: str) -> None:
    assert place_city(name) == Place("上海市", "上海市")


@pytest.mark.parametrize(
    ("name", "prefecture", "province"),
    [
        ("昆山", "苏州市", "江苏省"),  # a county-level city: its prefecture
        ("昆山市", "苏州市", "江苏省"),
        ("Kunshan", "苏州市", "江苏省"),
        ("义乌", "金华市", "浙江省"),
        ("浦东新区", "上海市", "上海市"),
        ("深圳", "深圳市", "广东省"),
        ("Shenzhen", "深圳市", "广东省"),
        ("shen zhen", "深圳市", "广东省"),
        ("Xi'an", "西安市", "陕西省"),
        ("恩施州", "恩施土家族苗族自治州", "湖北省"),
        ("铜仁地区", "铜仁市", "贵州省"),
        ("江苏省苏州市", "苏州市", "江苏省"),
        ("Hong Kong", "香港特别行政区", "香港特别行政区"),
        ("江苏", None, "江苏省"),  # a province alone
        ("广西", None, "广西壮族自治区"),
    ],
)
def test_names_place_to_their_prefecture_and_province(
    name: str, prefecture: str | None, province: str
) -> None:
    assert place_city(name) == Place(province, prefecture)


@pytest.mark.parametrize(
    "name",
    ["火星", "abc", "", "  ", None, "Suzhou", "朝阳区", "上海市徐汇区虹漕路461号"],
    # Suzhou: 苏州 or 宿州; 朝阳区: in Beijing and in Changchun; an address is no city
)
def test_names_it_cannot_place_give_none(name: str | None) -> None:
    assert place_city(name) is None


def test_an_unplaced_name_still_equals_its_own_spellings() -> None:
    assert city_key("火星 ") == city_key("火星") != city_key("水星")
    assert city_key(None) is None and city_key(" ") is None


_PINYIN_LOADED = """
import sys
from features.places import place_city
chinese = [place_city(n) for n in ("上海", "江苏省昆山市", "恩施州", "火星")]
before = "pypinyin" in sys.modules
latin = place_city("Kunshan")
print(before, "pypinyin" in sys.modules, chinese[1] == latin)
"""


def test_only_a_latin_name_loads_the_pinyin_tiers() -> None:
    # A fresh process: this one has read Latin names already. Chinese names are placed
    # without pypinyin (about a second of every ingest, scoring and serving process).
    done = subprocess.run(
        [sys.executable, "-c", _PINYIN_LOADED], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "True", "True"]


def _events() -> pd.DataFrame:
    rows = [
        ("2023-10-01", "offer_approval_requested", None),
        ("2023-10-03", "message_sent", None),
        ("2023-10-05", "message_replied", None),
    ]
    frame = pd.DataFrame(rows, columns=["local_day", "type", "topic"])
    frame["local_day"] = pd.to_datetime(frame["local_day"]).dt.date
    frame["ts_utc"] = pd.to_datetime(frame["local_day"]) + pd.Timedelta(hours=2)
    frame["actor"] = np.where(frame["type"] == "message_replied", "candidate", "hr")
    frame = frame.assign(value=np.nan, content_id=None)
    return pd.concat([frame.assign(candidate_id=f"X{i}") for i in range(12)], ignore_index=True)


def _candidates(home: list[str], work: str = "上海", role: str = "tech") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate_id": [f"X{i}" for i in range(len(home))],
            "school_tier": 2,
            "degree": "master",
            "role_family": role,
            "major": "计算机科学",
            "work_city": work,
            "home_city": home,
            "start_date": dt.date(2024, 7, 1),
        }
    )


def _features(cands: pd.DataFrame) -> pd.DataFrame:
    spine = pd.DataFrame({"candidate_id": cands["candidate_id"], "as_of": "2023-10-20"})
    return build_features(_events(), cands, spine)


def test_a_shanghai_local_is_local_however_the_city_is_written() -> None:
    out = _features(_candidates(SHANGHAI))
    assert out["far_from_home"].tolist() == [0.0] * len(SHANGHAI)
    assert out["housing_wait_days"].tolist() == [0.0] * len(SHANGHAI)
    features = out[list(FEATURE_NAMES)]
    for i in range(1, len(SHANGHAI)):
        pd.testing.assert_series_equal(
            features.iloc[0], features.iloc[i], check_names=False, obj=SHANGHAI[i]
        )


def test_a_county_level_city_is_local_to_its_prefecture_and_others_are_not() -> None:
    out = _features(_candidates(["昆山", "苏州市", "南京", "火星"], work="苏州"))
    assert out["far_from_home"].tolist() == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("name", ["技术", "研发", "软件开发", "技术类", "研发岗", " Tech ", "TECH"])
def test_chinese_and_cased_names_of_tech_map_to_tech(name: str) -> None:
    assert role_family_of(name) == "tech"


@pytest.mark.parametrize("name", ["工程", "营销", "职能", "管培生", "", None])
def test_ambiguous_or_unknown_role_names_stay_unmapped(name: str | None) -> None:
    assert role_family_of(name) is None


def test_every_family_of_the_model_has_names_and_maps_to_itself() -> None:
    assert set(ROLE_NAMES) == set(ROLE_FAMILIES)
    assert all(role_family_of(f) == f for f in ROLE_FAMILIES)
    assert all(role_family_of(n) == f for f, names in ROLE_NAMES.items() for n in names)


def test_a_chinese_role_family_gives_the_features_of_its_family() -> None:
    tech = _features(_candidates(["上海"], role="tech"))
    chinese = _features(_candidates(["上海"], role="技术"))
    assert chinese["role_family"].tolist() == ["tech"]
    assert chinese["major_role_fit"].tolist() == [1.0]
    pd.testing.assert_frame_equal(chinese, tech)


def test_fairness_region_is_the_same_for_every_spelling() -> None:
    assert {home_region(n) for n in [*SHANGHAI, "浦东新区"]} == {"华东"}


def test_fairness_region_of_a_county_level_city_is_its_prefecture_s() -> None:
    assert home_region("昆山市") == home_region("苏州") == "华东"
    assert home_region("Harbin") == "东北"


def test_every_region_city_is_placed_by_the_gazetteer() -> None:
    cities = [c for names in REGIONS.values() for c in names.split()]
    assert all(place_city(c) is not None for c in cities)
    assert {home_region(c) for c in cities} == set(REGIONS)


def test_a_trained_model_gives_one_risk_for_one_shanghai_local() -> None:
    """A small model that has learnt that moving cities raises risk scores two spellings
    of a Shanghai local alike, and a candidate from elsewhere higher."""
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame(rng.normal(0, 1, (n, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    X["role_family"] = rng.choice(list(ROLE_FAMILIES), n)
    X["far_from_home"] = rng.integers(0, 2, n).astype(float)
    y = (rng.random(n) < np.where(X["far_from_home"] > 0, 0.6, 0.1)).astype(int)
    model = DropoutClassifier(params={"num_threads": 1}, num_boost_round=30)
    model.fit(X, y, np.arange(n) // 5)
    predictor = Predictor.of(model)
    rows = _features(
        _candidates(["上海", "上海市", "成都"]).assign(role_family=["tech", "技术", "tech"])
    )
    risk = predictor.explain(predictor.matrix(rows))[0]
    assert risk[0] == risk[1] < risk[2]


def _bundle(tmp_path: Path, **columns: list[str]) -> Path:
    folder = tmp_path / "bundle"
    shutil.copytree(SAMPLE, folder)
    cands = pd.read_csv(folder / "candidates.csv", dtype=str, keep_default_na=False)
    for name, values in columns.items():
        cands.loc[: len(values) - 1, name] = values
    cands.to_csv(folder / "candidates.csv", index=False)
    return folder


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # warnings do not depend on it
def test_ingest_warns_of_cities_it_cannot_place_naming_file_and_count(
    store: Engine, tmp_path: Path
) -> None:
    folder = _bundle(tmp_path, home_city=["火星", "火星", "Suzhou", "上海市", "徐汇区虹漕路461号"])
    report = ingest_bundle(store, folder)
    cities = [w for w in report.warnings if "city" in w]
    assert cities == [
        "candidates.csv: 4 city name(s) it cannot place (home_city 4), compared as written: "
        "火星 ×2, Suzhou ×1, 1 other value not shown"
    ]
    assert "461" not in report.summary()  # an address typed as a city is not shown
    assert "warning: candidates.csv: 4 city name(s)" in report.summary()
    with store.connect() as conn:  # stored as written
        home = conn.execute(
            select(Candidate.home_city).where(Candidate.candidate_id == "K2200003")
        ).scalar_one()
    assert home == "上海市"


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_ingest_warns_of_role_families_with_counts_and_keeps_them_as_written(
    store: Engine, tmp_path: Path
) -> None:
    folder = _bundle(tmp_path, role_family=["技术", "技术", "研发类", "职能", "职能"])
    report = ingest_bundle(store, folder)
    assert report.warnings == [
        "candidates.csv: 3 role_family value(s) read as the model's family: "
        "技术 -> tech ×2, 研发类 -> tech ×1",
        "candidates.csv: 2 role_family value(s) the model does not know, scored as missing: "
        "职能 ×2",
    ]
    with store.connect() as conn:
        roles = conn.execute(select(Candidate.role_family).order_by(Candidate.candidate_id)).all()
    assert [r[0] for r in roles[:5]] == ["技术", "技术", "研发类", "职能", "职能"]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_clean_bundle_ingests_without_warnings(store: Engine) -> None:
    assert ingest_bundle(store, SAMPLE).warnings == []
