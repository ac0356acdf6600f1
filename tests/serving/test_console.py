"""The HR console over HTTP: sign-in, sessions, CSRF, who sees what, exports, actions.

The browser tests (tests/browser) drive the same pages in Chromium; these check
what a browser cannot show: cookies' flags, refused forms, exports' contents.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from config import get_settings
from serving.main import create_app
from serving.users import create_user, disable_user, set_password
from store.db import open_store
from store.schema import ConsoleUser, Event, OutreachAction
from tests.conftest import as_home, built_once, cli_here
from tests.serving.conftest import DAY

PASSWORD = "correct horse battery"


def _owners(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                text("SELECT hr_owner FROM candidates GROUP BY hr_owner ORDER BY hr_owner")
            )
        ]


@pytest.fixture(scope="session")
def console_source(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scored day (``scored_home``: DAY's scores, alerts and plans) with two console
    users, lena (lead) and hana (hr, the first recruiter), built once per test run: the
    daily run and the Argon2 hashes cost seconds that each test paid before."""

    def build(home: Path) -> None:
        shutil.copytree(scored_home, home)
        with as_home(home) as settings:
            engine = open_store(settings)
            try:
                create_user(engine, "lena", "lead", PASSWORD)
                create_user(engine, "hana", "hr", PASSWORD, _owners(engine)[0])
            finally:
                engine.dispose()

    return built_once(tmp_path_factory, "console-home", build)


@pytest.fixture
def console_home(console_source: Path, keepwarm_home: Path) -> Path:
    """This test's own copy of ``console_source``, as its KEEPWARM_HOME."""
    shutil.copytree(console_source, keepwarm_home)
    get_settings.cache_clear()
    return keepwarm_home


@pytest.fixture
def served_home(console_home: Path) -> Path:
    """Here every test starts from the console's scored day (``engine`` opens it too)."""
    return console_home


@pytest.fixture
def owners(engine: Engine) -> list[str]:
    return _owners(engine)


@pytest.fixture
def console(console_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("KEEPWARM_MODEL_POLL_SECONDS", "0")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def shared_console(
    console_source: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """One app over one copy of ``console_source``, for the tests here that change nothing
    another test reads (their sign-ins make sessions, and their reads go to the audit log,
    which only tests on their own ``console`` look at): its start-up (the champion's load)
    and the day's scores it builds on the first page are paid once, not by each test."""
    home = tmp_path_factory.mktemp("console-shared") / "home"
    shutil.copytree(console_source, home)
    with as_home(home), pytest.MonkeyPatch.context() as env:
        env.setenv("KEEPWARM_MODEL_POLL_SECONDS", "0")
        get_settings.cache_clear()
        app = create_app(get_settings())
    get_settings.cache_clear()
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def reader(shared_console: TestClient) -> TestClient:
    """``shared_console`` as a new browser: no session, no language cookie."""
    shared_console.cookies.clear()
    return shared_console


def sign_in(client: TestClient, name: str, password: str = PASSWORD, next_url: str = "/today"):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token.group(1), "next": next_url},
        follow_redirects=False,
    )


def csrf_of(client: TestClient, path: str = "/today") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def test_pages_need_a_sign_in_and_come_back_after_it(reader: TestClient) -> None:
    away = reader.get("/risk?tier=high", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/login?next=%2Frisk%3Ftier%3Dhigh"
    done = sign_in(reader, "lena", next_url="/risk?tier=high")
    assert done.status_code == 303 and done.headers["location"] == "/risk?tier=high"
    cookie = done.headers["set-cookie"]
    assert "kw_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = reader.get("/risk?tier=high")
    assert page.status_code == 200 and 'id="risk-list"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_a_wrong_password_or_unknown_user_is_refused_alike(reader: TestClient) -> None:
    wrong = sign_in(reader, "lena", "not the password")
    unknown = sign_in(reader, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "kw_session" not in wrong.headers.get("set-cookie", "")
    assert "用户名或密码错误" in wrong.text


def test_the_sign_in_form_needs_its_csrf_token(reader: TestClient) -> None:
    reader.get("/login")
    refused = reader.post(
        "/login", data={"name": "lena", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert refused.status_code == 403
    assert reader.get("/today", follow_redirects=False).status_code == 303


def test_sign_in_attempts_are_limited(console: TestClient, monkeypatch) -> None:
    codes = [sign_in(console, "lena", f"guess {i}").status_code for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    # even the right password waits out the window: the limit is on the name
    assert sign_in(console, "lena").status_code == 429


def test_next_never_leaves_the_site(reader: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        done = sign_in(reader, "lena", next_url=target)
        assert done.headers["location"] == "/today"
        reader.cookies.clear()
    switched = reader.get("/lang/en?next=//evil.example", follow_redirects=False)
    assert switched.headers["location"] == "/today"


def test_forms_without_the_session_csrf_token_change_nothing(
    console: TestClient, engine: Engine
) -> None:
    sign_in(console, "lena")
    with engine.connect() as conn:
        action_id = conn.execute(
            select(OutreachAction.action_id).where(OutreachAction.status == "planned").limit(1)
        ).scalar_one()
    refused = console.post(f"/actions/{action_id}/done", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    with engine.connect() as conn:
        status = conn.execute(
            select(OutreachAction.status).where(OutreachAction.action_id == action_id)
        ).scalar_one()
    assert status == "planned"
    assert console.post("/logout", data={}).status_code == 403  # sign-out is a form too


def test_hr_sees_only_their_own_candidates_everywhere(
    reader: TestClient, engine: Engine, owners: list[str]
) -> None:
    mine, other = owners[0], owners[1]
    sign_in(reader, "hana")
    # asking for another recruiter's list is refused, as the API refuses it
    for path in ("/risk", "/risk.csv", "/risk.xlsx", "/today"):
        refused = reader.get(f"{path}?owner={other}")
        assert refused.status_code == 403, path
    page = reader.get("/risk")
    shown = set(re.findall(r'data-owner="([^"]+)"', page.text))
    assert shown == {mine}
    exported = reader.get("/risk.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) > 1 and {r[2] for r in rows[1:]} == {mine}
    with engine.connect() as conn:
        theirs = conn.execute(
            text("SELECT candidate_id FROM candidates WHERE hr_owner = :o LIMIT 1"), {"o": other}
        ).scalar_one()
    assert reader.get(f"/candidates/{theirs}").status_code == 404
    assert f">{other}<" not in reader.get("/today").text


def test_exports_hold_the_filtered_list_with_reasons(reader: TestClient) -> None:
    sign_in(reader, "lena")
    csv_rows = list(
        csv.DictReader(io.StringIO(reader.get("/risk.csv?tier=high").content.decode("utf-8-sig")))
    )
    assert csv_rows and {r["风险等级"] for r in csv_rows} == {"高"}
    assert all(r["主要原因"] for r in csv_rows)
    book = openpyxl.load_workbook(io.BytesIO(reader.get("/risk.xlsx?tier=high").content))
    sheet = book.active
    assert sheet is not None
    assert sheet.max_row == len(csv_rows) + 1
    reader.get("/lang/en")
    english = reader.get("/risk.csv?tier=high").content.decode("utf-8-sig")
    assert english.splitlines()[0].startswith("Rank,Candidate,Recruiter")


def test_marking_an_action_done_writes_its_event(console: TestClient, engine: Engine) -> None:
    sign_in(console, "lena")
    with engine.connect() as conn:
        action = conn.execute(
            select(OutreachAction.action_id, OutreachAction.candidate_id).where(
                OutreachAction.status == "planned", OutreachAction.action == "call"
            )
        ).first()
    assert action is not None
    done = console.post(
        f"/actions/{action.action_id}/done",
        data={"csrf_token": csrf_of(console)},
        headers={"referer": "http://testserver/today"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/today"
    with engine.connect() as conn:
        event = conn.execute(
            select(Event.type, Event.actor).where(Event.event_id == f"action-{action.action_id}")
        ).one()
    assert tuple(event) == ("call_made", "hr")
    page = console.get(f"/candidates/{action.candidate_id}")
    assert f'data-event="action-{action.action_id}"' in page.text


def test_risk_list_filters_and_sorts(reader: TestClient) -> None:
    sign_in(reader, "lena")
    high = reader.get("/risk?tier=high").text
    risks = [float(x) for x in re.findall(r'data-risk="([^"]+)"', high)]
    assert risks == sorted(risks, reverse=True)
    assert all(r >= get_settings().tier_high for r in risks)
    # the risk as a recruiter reads it: what it is the chance of, a whole percentage, a place
    assert "入职前毁约的可能性" in high
    cells = re.findall(r'<td class="risk" title="[^"]*">([^<]+?) <', high)
    assert cells and all(re.fullmatch(r"(> 90|< 1|\d{1,2})%", c.strip()) for c in cells)
    assert re.search(r"class=\"owner-rank\">(\S+ 的|你的) \d+ 人中第 \d+<", high)
    ascending = reader.get("/risk?sort=risk&dir=asc").text
    up = [float(x) for x in re.findall(r'data-risk="([^"]+)"', ascending)]
    assert up == sorted(up) and up[0] < risks[-1]
    by_id = re.findall(
        r'data-candidate="([^"]+)"', reader.get("/risk?sort=candidate_id&dir=asc").text
    )
    assert by_id == sorted(by_id)


def test_review_and_model_pages_show_their_tables(reader: TestClient) -> None:
    sign_in(reader, "lena")
    review = reader.get("/review?season=2024-autumn")
    assert review.status_code == 200
    for block in (
        "chart-funnel",
        "chart-reasons",
        "chart-content",
        "chart-holdout",
        "table-quality",
    ):
        assert f'id="{block}' in review.text
    # the 2024 season is finished: its stored daily scores are graded by its outcomes
    assert "线上评分（事后对照结果）" in review.text
    # the champion's bias audit, logged at training, is shown with every group
    audit = review.text[review.text.index('id="fairness"') :]
    assert "性别" in audit and "<td>女</td>" in audit and "<td>男</td>" in audit  # groups in words
    model = reader.get("/model")
    assert model.status_code == 200 and "v1" in model.text and "champion" in model.text


def test_disabling_a_user_ends_their_session(console: TestClient, engine: Engine) -> None:
    sign_in(console, "hana")
    assert console.get("/today", follow_redirects=False).status_code == 200
    disable_user(engine, "hana")
    assert console.get("/today", follow_redirects=False).status_code == 303
    assert sign_in(console, "hana").status_code == 401


def test_a_new_password_ends_the_old_sessions(console: TestClient, engine: Engine) -> None:
    sign_in(console, "hana")
    set_password(engine, "hana", "a brand new passphrase")
    assert console.get("/today", follow_redirects=False).status_code == 303
    assert sign_in(console, "hana").status_code == 401
    assert sign_in(console, "hana", "a brand new passphrase").status_code == 303


def test_users_create_reads_the_password_from_stdin_and_stores_a_hash(
    served_home: Path, engine: Engine
) -> None:
    # the CLI's entry point in this process (cli_here), its standard input a pipe's
    done = cli_here("users", "create", "wei", "--role", "hr", "--owner", "hr02",
                    input="a long passphrase\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    with engine.connect() as conn:
        stored = conn.execute(
            select(ConsoleUser.password_hash).where(ConsoleUser.name == "wei")
        ).scalar_one()
    assert stored.startswith("$argon2") and "a long passphrase" not in stored
    short = cli_here("users", "create", "ma", "--role", "lead", input="short\n")
    assert short.returncode == 1 and "at least 10" in short.stderr
    no_owner = cli_here("users", "create", "li", "--role", "hr", input="a long passphrase\n")
    assert no_owner.returncode == 1 and "--owner" in no_owner.stderr
    listed = cli_here("users", "list")
    assert "wei" in listed.stdout and "$argon2" not in listed.stdout


def test_explanation_override_and_audit_pages(console: TestClient, engine: Engine) -> None:
    from store import audit

    create_user(engine, "ada", "admin", PASSWORD)
    assert sign_in(console, "hana").status_code == 303
    risk = console.get("/risk", params={"as_of": DAY.isoformat()}).text
    cid = re.findall(r'href="/candidates/([^"?]+)', risk)[0]
    page = console.get(f"/candidates/{cid}")
    assert 'id="explanation-link"' in page.text and 'id="override-form"' in page.text
    explained = console.get(f"/candidates/{cid}/explanation", params={"as_of": DAY.isoformat()})
    assert explained.status_code == 200 and 'id="human-review"' in explained.text
    assert "性别" in explained.text and cid in explained.text
    # an override needs a reason and the form's token; it then shows on the page
    token = csrf_of(console, f"/candidates/{cid}")
    url = f"/candidates/{cid}/override"
    refused = console.post(url, data={"tier": "high", "reason": "", "csrf_token": token})
    assert refused.status_code == 400
    reason = "说家里希望留在本地"
    done = console.post(url, data={"tier": "high", "reason": reason, "csrf_token": token},
                        follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    shown = console.get(f"/candidates/{cid}").text
    assert 'id="override"' in shown and reason in shown
    listed = console.get("/risk", params={"as_of": DAY.isoformat()}).text
    assert listed.count('class="override"') == 1
    # HR may not read the audit log; an admin sees who looked at whom, from where
    assert console.get("/audit").status_code == 403
    console.cookies.clear()
    assert sign_in(console, "ada").status_code == 303
    log = console.get("/audit", params={"candidate": cid})
    assert log.status_code == 200 and "user:hana" in log.text
    entries = audit.entries(engine, candidate=cid, actor="hana")
    assert set(entries["target"]) >= {
        "/risk", "/candidates/{id}", "/candidates/{id}/explanation",
        "/candidates/{id}/override",
    }  # fmt: skip
    assert reason not in entries.to_json(force_ascii=False, date_format="iso")
    review = console.get("/review", params={"season": "2024-autumn"})
    assert review.status_code == 200
    table = review.text.split('id="overrides"')[1].split("</section>")[0]
    assert "<td>1</td>" in table  # the one override, in its direction's row
    exported = console.get("/risk.csv")
    assert exported.status_code == 200
    console.app.state.service.reads.flush()  # type: ignore[attr-defined]  # reads go in batches
    assert audit.entries(engine, actor="ada", action="export")["target"].tolist() == ["/risk.csv"]


def test_review_shows_the_in_season_calibration_check(console: TestClient, engine: Engine) -> None:
    """The daily run's check on early reneges, its verdict and the intercept shift in force."""
    from training.monitor import CheckResult, store_check

    result = CheckResult(
        as_of=dt.date(2024, 12, 2), window_days=28, windows=3, cohort=612, observed=41,
        expected=21.9, ratio=41 / 21.9, ratio_low=1.34, ratio_high=2.54, flagged=True,
        shift=0.37, shift_low=0.37, shift_high=1.02, shift_best=0.71, expected_shifted=30.1,
        expected_shown=21.9, shift_shown=0.0, reference=["2023-autumn"], verdict="low",
        per_window=[{"start": "2024-09-09", "candidates": 200, "observed": 12, "expected": 6.5}],
    )  # fmt: skip
    store_check(engine, result, "1", "flow:daily-scoring")
    sign_in(console, "lena")
    page = console.get("/review?season=2024-autumn")
    assert page.status_code == 200
    panel = page.text[page.text.index('id="in-season"') :]
    assert "chart-in-season" in panel and "table-in-season" in panel
    assert "风险偏低" in panel and "+0.37" in panel and "1.87 [1.34, 2.54]" in panel


def test_the_review_shows_each_actions_effect_with_its_interval_in_both_languages(
    console: TestClient, engine: Engine
) -> None:
    from outreach.effects import EffectsConfig, learn_effects
    from outreach.plan import PlanConfig

    sign_in(console, "hana")  # effects are the company's, no candidate in them: HR sees them
    before = console.get("/review?season=2024-autumn").text
    assert "尚未学习行动效果" in before and 'id="table-effects"' not in before
    learned = learn_effects(engine, DAY, PlanConfig().effects, EffectsConfig(bootstrap=50))
    zh = console.get("/review?season=2024-autumn").text
    table = zh.split('id="table-effects"')[1].split("</table>")[0]
    assert table.count("<tr>") == len(learned) + 1  # a row per action and segment
    assert "电话沟通" in table and "催办 offer 审批" in table
    assert "预设值" in table  # approval chasing has no data: the default, marked
    learned_rows = learned[~learned["assumed"]]
    if len(learned_rows):  # a learned row shows its interval
        low = learned_rows.iloc[0]["effect_low"]
        assert f"{100 * low:.0f}%" in table
    console.get("/lang/en")
    en = console.get("/review?season=2024-autumn").text
    table_en = en.split('id="table-effects"')[1].split("</table>")[0]
    assert "chase the offer approval" in table_en and "assumed default" in table_en
