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
