"""The hosted `file_search` tool in Responses, run by thinkgate's own loop over the
caller's vector stores (made through the SDK's upload path): the embedded model forced to
search (`tool_choice: {"type": "file_search"}`) with its `file_search_call`, queries,
results and stream events, priced per call in the ledger; a scripted upstream model whose
answer repeats an excerpt, cited with a `file_citation` of that file at that place; another
user's store never searched; a bad filter refused; the Agents SDK's `FileSearchTool`."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response

from tests.clients.test_clients import run_client, verdict
from tests.support.checks import check_stream_grammar
from tests.support.config import channel, server_config
from tests.support.gateway_support import Gateway, admin_http
from tests.support.retrieval_support import CORPUS, make_store
from tests.support.server import ServerProcess, make_client
from tests.support.upstreams import UpstreamProcess

RESULTS = "file_search_call.results"
SCRIPTED = "scripted-reader"


def _config(url: str) -> str:
    return server_config(
        channel("scripted", url, {"scripted-reader": "filesearch:reader"}),
    )


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[ServerProcess]:
    config = tmp_path_factory.mktemp("config") / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    process = ServerProcess(tmp_path_factory.mktemp("fs") / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def gateway(front: ServerProcess) -> Iterator[Gateway]:
    with admin_http(front.base_url) as http:
        yield Gateway(front.base_url, http)


@pytest.fixture(scope="module")
def member(gateway: Gateway) -> tuple[str, OpenAI, str]:
    """(key id, client, store id) of a member with the corpus in a store."""
    key_id, secret = gateway.key()
    client = gateway.sdk(secret).with_options(timeout=600)  # the small model, a busy machine
    return key_id, client, make_store(client, "docs").id


def _tool(store: str, **fields: Any) -> dict[str, Any]:
    return {"type": "file_search", "vector_store_ids": [store], **fields}


def _calls(response: Response) -> list[Any]:
    return [item for item in response.output if item.type == "file_search_call"]


@pytest.mark.timeout(900)
def test_embedded_model_forced_to_search(member: tuple[str, OpenAI, str], gateway: Gateway) -> None:
    key_id, client, store = member
    events: list[dict[str, Any]] = []
    with client.responses.stream(
        model="gpt-5.1",
        input="What causes ocean tides?",
        tools=[_tool(store, max_num_results=2)],
        tool_choice={"type": "file_search"},
        include=[RESULTS],
        max_tool_calls=1,
        max_output_tokens=120,
        temperature=0,
    ) as stream:
        events = [e.model_dump(mode="json", exclude_unset=True) for e in stream]
    final = Response.model_validate(events[-1]["response"])
    check_stream_grammar(events, validate=False)
    (call,) = _calls(final)
    assert call.status == "completed"
    assert "What causes ocean tides?" in call.queries  # the user's question beside the model's
    assert call.results and len(call.results) <= 2
    assert call.results[0].filename == "tides.txt"
    assert call.results[0].attributes == CORPUS["tides.txt"][1]
    assert 0 <= call.results[0].score <= 1
    kinds = [e["type"] for e in events if e.get("item_id") == call.id]
    assert kinds == [
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
    ]
    message = final.output[-1]
    assert message.type == "message"
    found = {r.file_id: r.filename for r in call.results}
    for part in message.content:  # what the tiny model writes is its own: any citation is real
        for note in part.annotations:  # type: ignore[union-attr]
            assert note.type == "file_citation" and found[note.file_id] == note.filename
    row = gateway.ledger(key_id, wait_for=1)[0]  # priced per completed call: $2.50 per 1K
    assert row["tool_calls"] == 1 and Decimal(row["tool_cost_usd"]) == Decimal("0.0025")


def test_answer_cites_the_file_it_came_from(member: tuple[str, OpenAI, str]) -> None:
    _, client, store = member
    response = client.responses.create(
        model=SCRIPTED,
        input="What causes ocean tides?",
        tools=[_tool(store)],
        tool_choice={"type": "file_search"},
    )
    (call,) = _calls(response)
    assert call.status == "completed" and call.results is None  # not asked for
    message = response.output[-1]
    assert message.type == "message"
    text = message.content[0].text  # type: ignore[union-attr]
    assert text.startswith("Ocean tides are caused by the gravitational pull")
    (citation,) = message.content[0].annotations  # type: ignore[union-attr]
    tides = next(f for f in client.files.list() if f.filename == "tides.txt")
    assert citation.type == "file_citation"
    assert (citation.file_id, citation.filename) == (tides.id, "tides.txt")
    assert text[: citation.index].endswith("tides.txt")


def test_another_users_store_is_never_searched(
    member: tuple[str, OpenAI, str], gateway: Gateway
) -> None:
    _, _, store = member
    _, secret = gateway.key()
    response = gateway.sdk(secret).responses.create(
        model=SCRIPTED,
        input="What causes ocean tides?",
        tools=[_tool(store)],
        tool_choice={"type": "file_search"},
        include=[RESULTS],
    )
    (call,) = _calls(response)
    assert call.status == "failed" and not call.results
    assert "tides" not in response.output_text.lower()


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "file_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 51},
        {"type": "file_search", "vector_store_ids": ["vs_1"], "filters": {"type": "like"}},
        {"type": "file_search", "vector_store_ids": ["vs_1"], "ranking_options": {"x": 1}},
    ],
)
def test_bad_tool_is_400(member: tuple[str, OpenAI, str], tool: dict[str, Any]) -> None:
    _, client, _ = member
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=SCRIPTED, input="hi", tools=[tool])  # type: ignore[list-item]
    assert str(caught.value.body.get("param", "")).startswith("tools[0]")  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def agents_file_search(front: ServerProcess) -> dict[str, dict[str, Any]]:
    """The script runs with the admin key: the store is the admin's."""
    make_store(make_client(front.base_url), "agents-docs", files=["tides.txt", "sourdough.md"])
    return run_client(front, "run_agents_file_search.py")


@pytest.mark.parametrize("case", ["searches", "streamed"])
def test_agents_sdk_file_search_tool(agents_file_search: dict[str, Any], case: str) -> None:
    verdict(agents_file_search, case)
