"""The model card's known limits read in the reader's words on the console, never as codes."""

from __future__ import annotations

import re

import pytest

from config import Settings
from serving.console.render import templates
from training.modelcard import build_card

# Every group ``training.evaluate.segment_labels`` gives, with the horizons of the training
# configuration's bands.
GROUPS = {
    "competing_offer": ["mentioned", "signal", "no"],
    "far_from_home": ["yes", "no", "unknown"],
    "school_tier": ["1", "2", "3", "unknown"],
    "horizon": ["<=30d", "31-90d", ">90d"],
}
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b\d+d\b|<=|\bunknown\b")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_off_segment_is_worded_not_coded(lang: str, settings: Settings) -> None:
    # Found with smaller test seasons: "risk for competing_offer = no is off by ..." on the
    # model page in both languages, where a segment's calibration was off.
    segments = [
        {"segment": s, "group": g, "off": True, "gap": 0.031, "gap_low": 0.01, "gap_high": 0.052}
        for s, groups in GROUPS.items()
        for g in groups
    ]
    card = build_card([], {}, {}, {"segments": segments}, None, [], settings)
    limits = [x for x in card["known_limits"] if "held-out season, risk for" in x]
    assert len(limits) == len(segments)
    shown = [templates.env.from_string("{{ x | flag }}").render(x=x, lang=lang) for x in limits]
    for text in shown:
        assert not CODE.search(text), text
        assert "+3.1%" in text and "+1.0%" in text and "+5.2%" in text
        if lang == "zh":
            assert "held-out" not in text and "留出赛季" in text
    assert len(set(shown)) == len(shown)  # each group its own words
