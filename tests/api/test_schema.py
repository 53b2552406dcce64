"""Schemathesis against the app's own OpenAPI schema: for every operation, requests
generated from the schema (positive and negative, with the write token so writes
run too) on a populated SQLite deployment never get a 5xx."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from contimg.api import create_app
from contimg.config import Settings
from tests.api.conftest import TOKEN
from tests.conftest import init_databases
from tests.factories.api import populate

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.generation import GenerationMode

EXAMPLES = 5
"""Examples per operation and mode: ~50 operations stay well under two minutes."""


@pytest.fixture
def api_schema(sqlite_settings: Settings) -> Iterator[Any]:
    s = sqlite_settings.model_copy(
        update={"api": sqlite_settings.api.model_copy(update={"write_token": TOKEN})}
    )
    dbs = init_databases(s)
    populate(dbs, s, n_groups=6)
    app = create_app(s, events=False)
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app)
    dbs.dispose()


def test_no_server_errors(api_schema: Any) -> None:
    failures: list[str] = []
    n_ops = 0
    for result in api_schema.get_all_operations():
        op = result.ok()
        if op.path == "/api/v1/events":
            continue  # an endless stream; tested with a real server
        n_ops += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def run(case: Any) -> None:
                try:
                    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
                except Exception as exc:  # the test client re-raises server errors
                    failures.append(f"{case.method} {case.formatted_path} {case.query}: {exc!r}")
                    return
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} query={case.query} "
                        f"body={case.body!r} -> {response.status_code}: {response.text[:300]}"
                    )

            run()
    assert n_ops > 40
    assert not failures, "\n".join(failures[:20])
