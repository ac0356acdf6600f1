"""One settings object reads the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings


def test_defaults_put_everything_under_home(tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "kw")
    assert s.store_url == f"sqlite:///{tmp_path / 'kw' / 'keepwarm.db'}"
    assert s.tracking_uri == f"sqlite:///{tmp_path / 'kw' / 'mlflow.db'}"
    assert s.prefect_home == tmp_path / "kw" / "prefect"


def test_environment_switches_store_and_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPWARM_DATABASE_URL", "postgresql+psycopg://u@/db?host=/tmp")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    s = Settings()
    assert s.store_url.startswith("postgresql+psycopg://")
    assert s.tracking_uri == "http://127.0.0.1:5000"


def test_the_training_config_is_the_versioned_one_unless_another_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import get_settings
    from training.config import DEFAULT_CONFIG, load_config

    monkeypatch.delenv("KEEPWARM_TRAINING_CONFIG")  # the tests' own small one
    get_settings.cache_clear()
    assert load_config() == load_config(DEFAULT_CONFIG)
    assert (load_config().folds, load_config().num_boost_round) == (5, 2000)

    other = tmp_path / "other.toml"
    other.write_text("num_boost_round = 7\nfolds = 2\n")
    monkeypatch.setenv("KEEPWARM_TRAINING_CONFIG", str(other))
    get_settings.cache_clear()
    assert (load_config().folds, load_config().num_boost_round) == (2, 7)

    monkeypatch.setenv("KEEPWARM_TRAINING_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="training_config"):
        Settings()


# 07:00 in Shanghai on 2 December, the daily run's scheduled time: 23:00 UTC the day before.
SCHEDULED = "2024-12-01T23:00:00+00:00"


def test_today_is_the_recruiters_day_not_the_hosts() -> None:
    import datetime as dt

    import time_machine

    from cli.main import _parse_day
    from config import get_settings

    with time_machine.travel(SCHEDULED, tick=False):
        assert dt.datetime.now(dt.UTC).date() == dt.date(2024, 12, 1)  # a UTC host's day
        assert Settings().today() == dt.date(2024, 12, 2)
        get_settings.cache_clear()
        assert _parse_day(None) == dt.date(2024, 12, 2)  # `keepwarm score` without --as-of
        assert Settings(timezone="UTC").today() == dt.date(2024, 12, 1)
        assert Settings(timezone="America/New_York").today() == dt.date(2024, 12, 1)


def test_an_unknown_time_zone_is_refused_by_name() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an IANA time zone"):
        Settings(timezone="Beijing")


def test_no_module_takes_today_from_the_hosts_clock() -> None:
    """``date.today()`` and a naive ``datetime.now()`` are the host's day, not the recruiters'."""
    import re

    root = Path(__file__).resolve().parent.parent
    packages = ("config", "store", "cli", "features", "training", "serving", "flows", "outreach")
    # a call, not a mention in a docstring; ``_utcnow()`` helpers pass a time zone
    naive = re.compile(r"(?<![`\w])(dt\.)?(date\.today|datetime\.now|datetime\.today)\(\)")
    found = [
        f"{path.relative_to(root)}:{n}"
        for package in packages
        for path in (root / package).rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if naive.search(line)
    ]
    assert found == []
