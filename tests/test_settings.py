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
