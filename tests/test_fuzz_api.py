"""schemathesis against the server's own `/openapi.json`: every `/v1` and `/admin/v1`
operation, schema-valid and schema-invalid requests, with the admin key and with none.

Checks: never a 5xx, every status, content type, header and body as documented, invalid
input refused with a 4xx, and no answer but 401 without a key. Generations are kept to a
few tokens so the run stays short on the embedded model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server import ADMIN_KEY, ServerProcess
from thinkgate.app import create_app
from thinkgate.config import Settings

MAX_EXAMPLES = 8  # per operation and mode; the case count is printed at the end
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
_CASES: dict[str, int] = {}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data")
    yield process
    process.stop()
    total = sum(_CASES.values())
    print(f"\nschemathesis: {total} cases in {len(_CASES)} runs, each with and without a key")


def _operations() -> list[tuple[str, str]]:
    """The operations to fuzz, known at collection time from an app that is never started."""
    paths = create_app(Settings()).openapi()["paths"]
    return [
        (method, path)
        for path, methods in paths.items()
        if path.startswith(("/v1/", "/admin/v1/"))
        for method in methods
    ]


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> Any:
    """The document as the running server serves it."""
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json")
    # Unknown query parameters are ignored, as OpenAI does: not a negative case here.
    schema.config.generation.update(max_examples=MAX_EXAMPLES, allow_extra_parameters=False)
    return schema


@pytest.mark.parametrize(("method", "path"), _operations())
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_operation_conforms(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    # Negative cases leave the query string alone: a repeated scalar parameter takes its
    # last value (Starlette's rule), which schemathesis counts as a type violation.
    fixed_query = {} if mode is GenerationMode.NEGATIVE else None
    strategy = operation.as_strategy(generation_mode=mode, query=fixed_query)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        _cheap(case)
        run_name = f"{operation.label} {mode.value}"
        _CASES[run_name] = _CASES.get(run_name, 0) + 1
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS)
        anonymous = case.call(headers={"Authorization": ""})
        assert anonymous.status_code == 401, (operation.label, anonymous.text)
        assert set(anonymous.json()["error"]) == {"message", "type", "param", "code"}

    run()


def _cheap(case: Any) -> None:
    """A few tokens per generation: the point is the wire, not the text."""
    body = case.body
    if not isinstance(body, dict):
        return
    path = case.operation.path
    if path == "/v1/responses" and "max_output_tokens" not in body:
        body["max_output_tokens"] = 16
    elif path == "/v1/responses" and isinstance(body["max_output_tokens"], int):
        body["max_output_tokens"] = min(max(body["max_output_tokens"], 16), 32)
    if path == "/v1/chat/completions":
        for field in ("max_completion_tokens", "max_tokens"):
            if isinstance(body.get(field), int) and body[field] > 16:
                body[field] = 16
        if "max_completion_tokens" not in body and "max_tokens" not in body:
            body["max_completion_tokens"] = 16
        if isinstance(body.get("n"), int) and body["n"] > 2:
            body["n"] = 2
