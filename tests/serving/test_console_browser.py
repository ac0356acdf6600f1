"""The console in a real browser: headless Chromium (Debian's) driven by Playwright,
against a live ``keepwarm serve`` on loopback with a trained store and two daily runs.

Screenshots of each page go to ``test-output/screenshots`` (or $KEEPWARM_SCREENSHOTS);
the README shows two of them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import text

from config import Settings, get_settings
from serving.users import create_user
from store.db import open_store
from tests.conftest import run_daily
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
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KEEPWARM_HOME", str(home))
        get_settings.cache_clear()
        engine = open_store(Settings(home=home))
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
        get_settings.cache_clear()
    with running_server(home, KEEPWARM_MODEL_POLL_SECONDS="0") as url:
        yield {"url": url, "owner": owners[0], "other_candidate": other}


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
    w.page.click("form[action='/login'] button[type=submit]")
    w.page.wait_for_load_state("networkidle")
    assert w.page.url.endswith(path), w.page.url


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
    owners = w.page.locator("#plan tbody tr td:nth-child(2)").all_inner_texts()
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
    w.page.click("#sort-risk")  # the same column again: lowest first
    w.page.wait_for_load_state("networkidle")
    up = [float(r) for r in w.page.locator("#risk-list tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.risk)"
    )]  # fmt: skip
    assert up == sorted(up) and "dir=asc" in w.page.url and "tier=high" in w.page.url
    w.page.goto(live["url"] + "/risk")
    shoot(w, "risk-list")
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
    w.page.click(f"#plan tbody tr[data-action='{action_id}'] td a")
    w.page.wait_for_load_state("networkidle")
    assert w.page.url.endswith(f"/candidates/{candidate}")
    assert w.page.locator(f"#timeline tr[data-event='action-{action_id}']").count() == 1
    assert charts_drawn(w) >= 1
    shoot(w, "candidate")
    assert w.errors == []


def test_language_switch_and_review_charts(browser, live) -> None:
    w = open_page(browser, live)
    sign_in(w, live, "lena", "/review")
    assert w.page.locator("html").get_attribute("lang") == "zh-CN"
    w.page.click("#lang-switch")
    w.page.wait_for_load_state("networkidle")
    assert w.page.locator("html").get_attribute("lang") == "en"
    assert w.page.url.endswith("/review")
    assert w.page.locator("#nav-risk").inner_text() == "Risk list"
    assert charts_drawn(w) >= 6
    assert w.page.locator("#table-funnel tbody tr").count() >= 3
    shoot(w, "season-review")
    w.page.goto(live["url"] + "/model")
    assert re.search(r"v1\b", w.page.locator("#champion").inner_text())
    shoot(w, "model")
    assert w.errors == []


def test_pages_fit_a_phone(browser, live) -> None:
    w = open_page(browser, live, width=390, height=844)
    sign_in(w, live, "hana", "/risk")
    for path in ("/risk", "/today", "/review"):
        w.page.goto(live["url"] + path)
        w.page.wait_for_load_state("networkidle")
        overflow = w.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} is {overflow}px wider than the phone"
    w.page.goto(live["url"] + "/risk")
    shoot(w, "risk-list-phone")
    assert w.errors == []
