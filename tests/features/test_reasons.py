"""Reasons as a recruiter reads them: no template holes, and English that agrees with its counts."""

from __future__ import annotations

import math
import re

import pytest

from features.catalogue import CATALOGUE, FEATURE_NAMES, NONE_YET, reason_text

LANGS = ("zh", "en")


def test_every_feature_has_words_for_none_yet() -> None:
    assert set(NONE_YET) == set(FEATURE_NAMES)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("missing", [None, math.nan])
def test_a_missing_value_reads_as_none_yet_not_as_a_template(lang: str, missing: object) -> None:
    for feature in CATALOGUE:
        text = reason_text(feature.name, missing, lang)  # type: ignore[arg-type]
        assert "{" not in text and "?" not in text and not re.search(r"\bnan\b", text.lower()), (
            feature.name
        )
        assert text == NONE_YET[feature.name][0 if lang == "zh" else 1]


def test_the_demo_reply_hours_hole_is_gone() -> None:
    assert reason_text("reply_hours_total", None, "zh") == "还没有回复过消息"
    assert reason_text("reply_hours_total", 30.0, "zh") == "平均 30 小时才回复"


@pytest.mark.parametrize(
    ("name", "value", "english"),
    [
        ("replies_total", 1.0, "replied only 1 time (so far)"),
        ("replies_total", 2.0, "replied only 2 times (so far)"),
        ("replies_total", 0.0, "no reply so far"),
        ("clicks_7d", 0.0, "no link clicked in the last 7 days"),
        ("clicks_7d", 1.0, "clicked only 1 link (last 7 days)"),
        ("days_since_reply", 1.0, "no reply for 1 day"),
        ("days_since_reply", 3.0, "no reply for 3 days"),
        ("approval_steps_done", 1.0, "1 approval step done"),
        ("session_questions_unfollowed", 1.0, "1 info-session topic never followed up"),
        ("asked_tech_stack", 1.0, "cares about tech stack: asked 1 time"),
        ("competing_offer_signals", 1.0, "1 sign of a competing offer"),
        ("materials_submitted", 0.0, "onboarding materials not submitted yet"),
        ("materials_submitted", 1.0, "onboarding materials submitted"),
        ("far_from_home", 0.0, "would work in their home city"),
        ("role_family", "tech", "role family: tech"),
    ],
)
def test_english_counts_agree_with_their_number(name: str, value: object, english: str) -> None:
    assert reason_text(name, value, "en") == english  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", LANGS)
def test_every_reason_reads_without_markup_at_any_count(lang: str) -> None:
    for feature in CATALOGUE:
        for value in (0.0, 1.0, 2.0, 17.0, 0.4):
            shown = "tech" if feature.categorical else value
            text = reason_text(feature.name, shown, lang)
            assert not any(m in text for m in ("{", "}", "num(", "plural")), (feature.name, text)
            if lang == "en" and value == 1.0:
                assert not any(
                    f" 1 {noun}s" in text for noun in ("day", "time", "message", "link", "hour")
                ), text


def test_actions_name_real_features_and_never_a_profile_fact() -> None:
    from features.catalogue import ACTIONS, BY_NAME, reason_action

    assert set(ACTIONS) <= set(FEATURE_NAMES)
    # what a recruiter cannot change is a fact to know, not a task
    assert not [n for n in ACTIONS if BY_NAME[n].family in ("profile", "stage")]
    assert reason_action("silent_days_total", "zh") == "主动联系候选人"
    assert reason_action("silent_days_total", "en") == "get in touch"
    assert reason_action("school_tier", "en") is None


# An ASCII comma, colon, semicolon or bracket next to Chinese text (full-width ones belong there)
_ASCII_IN_CHINESE = re.compile(r"[\u4e00-\u9fff][ ]?[(),;:?!]|[(),;:?!][ ]?[\u4e00-\u9fff]")


def _chinese_texts() -> dict[str, str]:
    from features.catalogue import ACTIONS
    from outreach import alerts, plan
    from serving import i18n

    texts = {f"reason {f.name}": f.reason_zh for f in CATALOGUE}
    texts |= {f"none yet {k}": v[0] for k, v in NONE_YET.items()}
    texts |= {f"action {k}": v[0] for k, v in ACTIONS.items()}
    for module in (i18n, plan, alerts):
        for name, table in vars(module).items():
            if isinstance(table, dict) and name.isupper():
                for key, value in table.items():
                    if isinstance(value, tuple) and value and isinstance(value[0], str):
                        texts[f"{module.__name__}.{name} {key}"] = value[0]
    return texts


def test_chinese_text_uses_chinese_punctuation() -> None:
    texts = _chinese_texts()
    assert len(texts) > 200
    wrong = {k: v for k, v in texts.items() if _ASCII_IN_CHINESE.search(v)}
    assert wrong == {}


def test_english_counts_say_what_inflect_says_for_every_template_and_count() -> None:
    # features.catalogue says the counts itself (inflect's import costs every scoring
    # process 3-4 s of CPU); inflect stays the authority: each template, at each count,
    # reads as inflect's engine reads it, and each noun's plural is inflect's.
    import inflect

    from features.catalogue import PLURALS, english_counts

    engine = inflect.engine()
    assert {noun: engine.plural(noun) for noun in PLURALS} == PLURALS
    templates = [f.reason_en for f in CATALOGUE if "num(" in f.reason_en]
    assert len(templates) > 20
    for template in templates:
        for value in (0.0, 1.0, 1.4, 2.0, 17.0, 0.4, -1.0):
            text = template.format(v=value)
            assert english_counts(text) == engine.inflect(text), text
