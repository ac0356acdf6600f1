"""Schemathesis over the live service's own OpenAPI schema: no 5xx, no response off the schema.

Bounded: a few dozen generated requests per operation, with no deadline per
example (the machines are shared; speed belongs in benchmarks/).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from config import Settings
from serving.auth import create_key
from serving.main import create_app
from store.db import open_store
from tests.serving.conftest import running_server

if TYPE_CHECKING:
    from schemathesis.schemas import BaseSchema


@pytest.fixture(scope="module")
def live_api(
    trained_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp("schema") / "home"
    shutil.copytree(trained_home, home)
    engine = open_store(Settings(home=home))
    key = create_key(engine, "admin").key
    engine.dispose()
    with running_server(
        home,
        KEEPWARM_RATE_LIMIT="100000/second",
        KEEPWARM_GREENHOUSE_SECRET="schema-test",
        KEEPWARM_MODEL_POLL_SECONDS="0",
    ) as url:
        yield url, key


# The schema the app publishes (at /openapi.json), read from the app itself at collection time;
# the requests go to the live server. One test per operation, each with its own id:
# schemathesis' own `schema.parametrize()` gives every operation the same node id, which
# pytest-xdist reports (and counts) as one. The ids are schemathesis' labels (METHOD path);
# schemathesis itself (and hypothesis) is loaded by the worker that runs these tests only:
# 1.8 s of CPU that every test process paid at collection.
PUBLISHED = create_app(Settings()).openapi()
OPERATIONS = [(method, path) for path, methods in PUBLISHED["paths"].items() for method in methods]


@pytest.fixture(scope="module")
def schema() -> BaseSchema:
    from schemathesis.config import SchemathesisConfig
    from schemathesis.openapi.loaders import from_dict

    # A schema-valid request may still be refused for what a schema cannot say: an unknown
    # candidate (422), an impossible calendar date (422), a cursor this API never gave out
    # (400).
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "422", "429"]
                }
            }
        }
    )
    return from_dict(PUBLISHED, config=config)


@pytest.mark.parametrize(
    ("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS]
)
def test_api_keeps_its_schema(
    method: str, path: str, schema: BaseSchema, live_api: tuple[str, str]
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    url, key = live_api
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def calls(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {key}"})

    calls()
