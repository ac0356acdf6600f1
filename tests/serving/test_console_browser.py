"""The console in a real browser: headless Chromium (Debian's) driven by Playwright,
against a live ``keepwarm serve`` on loopback with a trained store and two daily runs.

The plan recruiters follow (the last tests, on the same seeded state): every top-10
risk and open question is planned or listed with why; a question's content answers its
topic or says none fits; no raw code on any page in either language; done closes an
alert and undo reopens it; an override keeps the shown score; the lead's team view adds
up to the plan.

Screenshots of each page go to ``test-output/screenshots`` (or $KEEPWARM_SCREENSHOTS);
with KEEPWARM_README_SHOTS set, the plan's go to docs/screenshots for the README.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import Engine, text

from config import Settings
from outreach.plan import question_topics
from serving.users import create_user
from store.db import open_store
from tests.conftest import as_home, run_daily
from tests.serving.conftest import DAY, running_server

PASSWORD = "correct horse battery"
SHOTS = Path(
    os.environ.get(
        "KEEPWARM_SCREENSHOTS", Path(__file__).parents[2] / "test-output" / "screenshots"
    )
)
# Without the background-networking flags Chromium keeps calling home, which this
# machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def live(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A served copy of the trained home: daily runs on DAY and a week before, two users."""
    home = tmp_path_factory.mktemp("console") / "home"
    shutil.copytree(trained_home, home)
    # as_home: this home's own registry, whatever MLflow URI an earlier test's fixture left
    with as_home(home) as settings:
        engine = open_store(settings)
        run_daily(engine, DAY - dt.timedelta(days=7))
        run_daily(engine, DAY)
        with engine.connect() as conn:
            owners = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT hr_owner FROM outreach_actions WHERE status = 'planned' "
                        "AND action IN ('call', 'send_content', 'answer_question') "
                        "GROUP BY hr_owner ORDER BY count(*) DESC"
                    )
                )
            ]
            other = conn.execute(
                text("SELECT candidate_id FROM candidates WHERE hr_owner != :o LIMIT 1"),
                {"o": owners[0]},
            ).scalar_one()
        create_user(engine, "lena", "lead", PASSWORD)
        create_user(engine, "hana", "hr", PASSWORD, owners[0])
        engine.dispose()
    with running_server(home, KEEPWARM_MODEL_POLL_SECONDS="0") as url:
        yield {"url": url, "owner": owners[0], "other_candidate": other, "home": home}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page whose console errors and uncaught exceptions are kept."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def open_page(browser: Browser, live: dict[str, Any], width: int = 1280, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    return Watched(context.new_page())


def sign_in(w: Watched, live: dict[str, Any], name: str, path: str = "/today") -> None:
    w.page.goto(live["url"] + path)
    assert "/login" in w.page.url
    w.page.fill("input[name=name]", name)
    w.page.fill("input[name=password]", PASSWORD)
    follow(w, "form[action='/login'] button[type=submit]")
    assert w.page.url.endswith(path), w.page.url


def follow(w: Watched, selector: str) -> None:
    """Click ``selector`` and wait for the page it leads to (its load event, after any
    redirect). The console's pages are whole documents, with no requests after they load:
    waiting for the network to go quiet too cost half a second a click."""
    with w.page.expect_navigation():
        w.page.click(selector)


def shoot(w: Watched, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def charts_drawn(w: Watched) -> int:
    """Wait until every chart on the page is drawn by plotly.js; returns how many."""
    charts = w.page.locator("[data-chart]")
    n = charts.count()
    for i in range(n):
        charts.nth(i).locator("svg.main-svg").first.wait_for(state="attached", timeout=15_000)
    w.page.wait_for_function(
        "() => [...document.querySelectorAll('[data-chart]')].every(e => e.dataset.rendered)"
    )
    return n


def test_hr_signs_in_and_sees_only_their_own_plan_and_list(browser, live) -> None:
    w = open_page(browser, live)
    sign_in(w, live, "hana")
    owners = w.page.locator("#plan tbody tr td:nth-child(3)").all_inner_texts()
    assert owners and set(owners) == {live["owner"]}
    shoot(w, "today")
    w.page.goto(live["url"] + "/risk")
    shown = set(w.page.locator("#risk-list tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.owner)"
    ))  # fmt: skip
    assert shown == {live["owner"]}
    assert w.errors == []
    response = w.page.goto(live["url"] + f"/candidates/{live['other_candidate']}")
    assert response is not None and response.status == 404
    assert w.page.locator("h1").inner_text() == "没有这个页面，或无权查看"


def test_lead_filters_and_sorts_the_risk_list(browser, live) -> None:
    w = open_page(browser, live)
    sign_in(w, live, "lena", "/risk")
    shoot(w, "risk-list")  # the whole list, before any filter
    total = w.page.locator("h1 small").inner_text()
    with w.page.expect_navigation():
        w.page.select_option("select[name=tier]", "high")  # applies at once (script)
    assert "tier=high" in w.page.url
    tiers = w.page.locator("#risk-list .tier").all_inner_texts()
    assert tiers and set(tiers) == {"高"}
    assert w.page.locator("h1 small").inner_text() != total
    risks = [float(r) for r in w.page.locator("#risk-list tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.risk)"
    )]  # fmt: skip
    assert risks == sorted(risks, reverse=True)
    follow(w, "#sort-risk")  # the same column again: lowest first
    up = [float(r) for r in w.page.locator("#risk-list tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.risk)"
    )]  # fmt: skip
    assert up == sorted(up) and "dir=asc" in w.page.url and "tier=high" in w.page.url
    assert w.errors == []


def test_marking_an_action_done_shows_in_the_timeline(browser, live) -> None:
    w = open_page(browser, live)
    sign_in(w, live, "hana")
    row = w.page.locator("#plan tbody tr", has=w.page.locator("button.mark-done")).first
    action_id = row.get_attribute("data-action")
    candidate = row.locator("td a").first.inner_text()
    with w.page.expect_navigation():
        row.locator("button.mark-done").click()
    done_row = w.page.locator(f"#plan tbody tr[data-action='{action_id}']")
    assert done_row.locator(".done").count() == 1
    follow(w, f"#plan tbody tr[data-action='{action_id}'] td a")
    assert w.page.url.endswith(f"/candidates/{candidate}")
    assert w.page.locator(f"#timeline tr[data-event='action-{action_id}']").count() == 1
    assert charts_drawn(w) >= 1
    shoot(w, "candidate")
    assert w.errors == []


def test_language_switch_and_review_charts(browser, live) -> None:
    w = open_page(browser, live)
    # switched on /model, which stays the page shown; /review (its charts drawn twice
    # over) is then loaded once, in English: the language holds from page to page
    sign_in(w, live, "lena", "/model")
    assert w.page.locator("html").get_attribute("lang") == "zh-CN"
    follow(w, "#lang-switch")
    assert w.page.locator("html").get_attribute("lang") == "en"
    assert w.page.url.endswith("/model")
    assert w.page.locator("#nav-risk").inner_text() == "Risk list"
    assert re.search(r"v1\b", w.page.locator("#champion").inner_text())
    shoot(w, "model")
    w.page.goto(live["url"] + "/review")
    assert w.page.locator("html").get_attribute("lang") == "en"
    assert w.page.locator("#nav-risk").inner_text() == "Risk list"
    assert charts_drawn(w) >= 6
    assert w.page.locator("#table-funnel tbody tr").count() >= 3
    shoot(w, "season-review")
    assert w.errors == []


def test_pages_fit_a_phone(browser, live) -> None:
    w = open_page(browser, live, width=390, height=844)
    sign_in(w, live, "hana", "/risk")
    for path in ("/risk", "/today", "/review"):
        if path != "/risk":  # signed in on it
            w.page.goto(live["url"] + path)
        charts_drawn(w)  # the review's charts take their width once drawn
        overflow = w.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} is {overflow}px wider than the phone"
        if path == "/risk":
            shoot(w, "risk-list-phone")
    assert w.errors == []


README_SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
# Codes a recruiter must never read: alert kinds, actors, channels, and any snake_case code.
RAW = re.compile(
    r"\b(no_reply|question_unanswered|approval_pending|competing_offer|extension_requested|"
    r"risk_jump|approval_slow|hr_director|dept_manager|wechat|email|phd|bachelor|master|"
    r"[a-z]+_[a-z_]+|\d{4}-(?:autumn|spring))\b|\d\s?pp\b"
)


def shot(w: Watched, name: str, full: bool = True) -> None:
    folder = README_SHOTS if os.environ.get("KEEPWARM_README_SHOTS") else SHOTS
    folder.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=str(folder / f"{name}.png"), full_page=full)


def store(live: dict[str, Any]) -> Engine:
    return open_store(Settings(home=live["home"]))


def rows(engine: Engine, sql: str, **params: object) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text(sql), conn, params=params)


def test_every_top_risk_and_open_question_is_planned_or_listed(
    browser: Browser, live: dict[str, Any]
) -> None:
    w = open_page(browser, live)
    sign_in(w, live, "hana")
    planned = w.page.locator("#plan tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.candidate)"
    )
    listed = dict(
        w.page.locator("#not-planned tbody tr").evaluate_all(
            "rows => rows.map(r => [r.dataset.candidate, r.querySelector('.why').innerText])"
        )
    )
    engine = store(live)
    owner, day = live["owner"], DAY.isoformat()
    top = rows(
        engine,
        "SELECT s.candidate_id FROM scores s JOIN candidates c USING (candidate_id) "
        "WHERE c.hr_owner = :o AND s.as_of = :d ORDER BY s.risk DESC, s.candidate_id LIMIT 10",
        o=owner, d=day,
    )["candidate_id"]  # fmt: skip
    asked = rows(
        engine,
        "SELECT a.candidate_id FROM alerts a JOIN candidates c USING (candidate_id) "
        "WHERE c.hr_owner = :o AND a.as_of = :d AND a.kind = 'question_unanswered' "
        "AND a.resolved_at IS NULL",
        o=owner, d=day,
    )["candidate_id"]  # fmt: skip
    assert len(top) == 10
    for cid in {*top, *asked}:
        assert (cid in planned) != (cid in listed), cid
        if cid in listed:
            assert listed[cid].strip() and not RAW.search(listed[cid])
    # the order: urgent work first, then by value, the parts on the row
    assert "紧急" in w.page.locator("#order-rule").inner_text()
    urgent = w.page.locator("#plan tbody tr").evaluate_all(
        "rows => rows.map(r => r.classList.contains('urgent'))"
    )
    assert urgent == sorted(urgent, reverse=True)
    assert all("×" in v for v in w.page.locator("#plan td.value").all_inner_texts())

    # a question's content answers its topic, or the words say none fits
    answers = rows(
        engine,
        "SELECT o.candidate_id, o.content_id, o.reason, c.topics FROM outreach_actions o "
        "LEFT JOIN content c USING (content_id) WHERE o.plan_date = :d "
        "AND o.action = 'answer_question'",
        d=day,
    )
    assert not answers.empty
    events = rows(
        engine,
        "SELECT candidate_id, type, topic, actor, ts_utc FROM events WHERE local_day <= :d "
        "AND candidate_id IN (SELECT candidate_id FROM outreach_actions WHERE plan_date = :d "
        "AND action = 'answer_question')",
        d=day,
    )
    open_topics = question_topics(events)
    for r in answers.itertuples(index=False):
        if pd.isna(r.content_id):
            assert "亲自答复" in r.reason
        else:
            asked_topics = set(open_topics.get(r.candidate_id, []))
            assert asked_topics & set(str(r.topics).split(";")), r.candidate_id
    engine.dispose()
    shot(w, "today")
    assert w.errors == []


def test_no_raw_code_on_any_page_in_either_language(browser: Browser, live: dict[str, Any]) -> None:
    w = open_page(browser, live)
    sign_in(w, live, "lena")
    cid = w.page.locator("#plan tbody tr").first.get_attribute("data-candidate")
    pages = ["/today", "/risk", f"/candidates/{cid}", f"/candidates/{cid}/explanation",
             "/review", "/model"]  # fmt: skip
    found: dict[str, list[str]] = {}
    # each page loaded once per language: Chinese from /today (signed in on it) to /model,
    # English from /model (the switch reloads the page it is on) back to /review
    for lang, order in (("zh", pages), ("en", pages[::-1])):
        if lang == "en":
            follow(w, "#lang-switch")
            assert w.page.locator("html").get_attribute("lang") == "en"
        for path in order:
            if w.page.url != live["url"] + path:
                w.page.goto(live["url"] + path)
            body = w.page.locator("main").inner_text()
            codes = sorted(
                {body[max(0, m.start() - 30) : m.end() + 10] for m in RAW.finditer(body)}
            )
            if codes:
                found[f"{lang} {path}"] = codes
    assert found == {}
    assert w.errors == []


def test_done_closes_the_alert_and_undo_reopens_it(browser: Browser, live: dict[str, Any]) -> None:
    engine = store(live)
    day = DAY.isoformat()
    task = rows(
        engine,
        "SELECT o.action_id, o.candidate_id FROM outreach_actions o JOIN alerts a "
        "USING (candidate_id) WHERE o.plan_date = :d AND o.status = 'planned' "
        "AND o.hr_owner = :o AND a.as_of = :d AND a.resolved_at IS NULL "
        "AND a.kind IN ('question_unanswered', 'competing_offer', 'extension_requested', "
        "'risk_jump') AND o.action IN ('call', 'answer_question') ORDER BY o.action_id LIMIT 1",
        d=day, o=live["owner"],
    ).iloc[0]  # fmt: skip
    w = open_page(browser, live)
    sign_in(w, live, "hana")
    row = w.page.locator(f"#plan tbody tr[data-action='{task.action_id}']")
    alerts_before = w.page.locator("#alerts tbody tr", has_text=task.candidate_id).count()
    assert alerts_before >= 1
    if row.locator("select[name=outcome]").count():
        row.locator("select[name=outcome]").select_option("connected")
    row.locator("input[name=note]").fill("候选人说下周给答复")
    with w.page.expect_navigation():
        row.locator("button.mark-done").click()
    assert row.locator(".done").count() == 1
    assert w.page.locator("#alerts tbody tr", has_text=task.candidate_id).count() < alerts_before
    stored = rows(engine, "SELECT status, note, done_at FROM outreach_actions WHERE action_id = :a",
                  a=int(task.action_id)).iloc[0]  # fmt: skip
    assert stored.status == "done" and stored.note == "候选人说下周给答复"
    # the data's day, not the machine's (stored in UTC: up to a day before in +08:00)
    stamped = dt.date.fromisoformat(str(stored.done_at)[:10])
    assert DAY - dt.timedelta(days=1) <= stamped <= DAY
    with w.page.expect_navigation():
        row.locator("button.undo").click()
    assert row.locator("button.mark-done").count() == 1
    assert w.page.locator("#alerts tbody tr", has_text=task.candidate_id).count() == alerts_before
    events = rows(engine, "SELECT count(*) AS n FROM events WHERE event_id LIKE :e",
                  e=f"action-{task.action_id}%")  # fmt: skip
    assert int(events["n"].iloc[0]) == 0
    engine.dispose()
    assert w.errors == []


def test_an_override_keeps_the_shown_score_and_its_reason_stays_internal(
    browser: Browser, live: dict[str, Any]
) -> None:
    w = open_page(browser, live)
    sign_in(w, live, "hana")
    cid = w.page.locator("#plan tbody tr").first.get_attribute("data-candidate")
    w.page.goto(live["url"] + f"/candidates/{cid}")
    engine = store(live)
    # the score on the page (the day's, with what the recruiter did today)
    shown = w.page.locator("#current-risk").get_attribute("data-risk")
    shown_tier = w.page.locator("#current-risk").get_attribute("data-tier")
    w.page.click("#override-form >> xpath=ancestor::details/summary")
    w.page.select_option("#override-form select[name=tier]", "high")
    w.page.fill("#override-form input[name=reason]", "内部备注：家里有变故")
    with w.page.expect_navigation():
        w.page.click("#override-form button[type=submit]")
    kept = rows(
        engine,
        "SELECT model_risk, model_tier FROM tier_overrides WHERE candidate_id = :c "
        "ORDER BY override_id",
        c=cid,
    )
    assert abs(float(kept["model_risk"].iloc[-1]) - float(str(shown))) < 1e-3
    assert kept["model_tier"].iloc[-1] == shown_tier
    w.page.goto(live["url"] + f"/candidates/{cid}/explanation")
    assert "家里有变故" not in w.page.locator("main").inner_text()
    engine.dispose()
    w.page.emulate_media(media="print")
    w.page.goto(live["url"] + f"/candidates/{cid}")
    w.page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    charts_drawn(w)
    # plotly redraws responsive charts a moment after a resize: shot once they fit the page
    w.page.wait_for_function(
        "() => [...document.querySelectorAll('[data-chart] svg.main-svg')]"
        ".every(s => s.getBoundingClientRect().right <= document.documentElement.clientWidth)"
    )
    shot(w, "candidate-print")
    assert w.errors == []


def test_the_lead_team_view_adds_up_to_the_plan(browser: Browser, live: dict[str, Any]) -> None:
    w = open_page(browser, live)
    sign_in(w, live, "lena")
    team = w.page.locator("#team tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.owner, +r.querySelector('.tasks').innerText])"
    )
    engine = store(live)
    plan = rows(
        engine,
        "SELECT hr_owner, count(*) AS n FROM outreach_actions WHERE plan_date = :d "
        "AND status IN ('planned', 'done') GROUP BY hr_owner",
        d=DAY.isoformat(),
    )
    engine.dispose()
    assert dict(team) == dict(zip(plan["hr_owner"], plan["n"].astype(int), strict=True))
    shown = w.page.locator("h2", has_text="任务").first.inner_text()
    assert str(int(plan["n"].sum())) in shown
    assert w.page.locator("#plan tbody tr").count() <= 50  # paged
    shot(w, "team", full=False)
    phone = open_page(browser, live, width=390, height=844)
    sign_in(phone, live, "hana")
    overflow = phone.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    first = phone.page.locator("#plan tbody tr", has=phone.page.locator("button.mark-done")).first
    for part in ("td.why", "button.mark-done"):
        box = first.locator(part).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
    shot(phone, "today-phone", full=False)
    assert w.errors == [] and phone.errors == []
