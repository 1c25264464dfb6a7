"""Background responses: queued → in_progress → terminal, polling, cancel, resumable streams,
and what a restart does to unfinished jobs. Real server, real SDK, real model."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response

from tests.support.checks import (
    check_stream_grammar,
    validate_response_resource,
    validate_stream_event,
)
from tests.support.config import channel, server_config
from tests.support.owners import other_user_client
from tests.support.server import ServerProcess, make_client
from tests.support.upstreams import start_standin

pytestmark = pytest.mark.timeout(300)

LONG_PROMPT = "Count from 1 to 1000, separated by commas."
TERMINAL = {"completed", "incomplete", "failed", "cancelled"}
TERMINAL_EVENTS = {"response.completed", "response.incomplete", "response.failed"}


def background(client: OpenAI, **kwargs: Any) -> Response:
    params: dict[str, Any] = {
        "model": "gpt-5.1",
        "input": "Write one sentence about the sea.",
        "temperature": 0,
        "max_output_tokens": 24,
        "background": True,
    }
    params.update(kwargs)
    return client.responses.create(**params)  # type: ignore[no-any-return]


def poll(
    client: OpenAI, response_id: str, until: Callable[[Response], bool], timeout: float = 120
) -> tuple[Response, list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.responses.retrieve(response_id)
        if not seen or seen[-1] != response.status:
            seen.append(str(response.status))
        if until(response):
            return response, seen
        time.sleep(0.02)
    raise AssertionError(f"response {response_id} stayed {seen} for {timeout}s")


def sse_events(reply: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in reply.iter_lines():
        if line.startswith("data: "):
            yield json.loads(line[len("data: ") :])


def events_of(stream: Any) -> list[dict[str, Any]]:
    return [event.model_dump(mode="json", exclude_unset=True) for event in stream]


def test_background_response_polled_to_completion(client: OpenAI, http: httpx.Client) -> None:
    queued = background(client)
    assert queued.status == "queued" and queued.background is True
    assert queued.output == [] and queued.usage is None
    done, seen = poll(client, queued.id, lambda r: r.status in TERMINAL)
    assert done.status in ("completed", "incomplete"), done.error
    assert seen[-1] == done.status and set(seen) <= {"queued", "in_progress", done.status}
    assert done.id == queued.id and done.background is True
    assert done.output_text.strip() and done.usage is not None and done.usage.output_tokens > 0
    validate_response_resource(http.get(f"/v1/responses/{queued.id}").json())
    [item] = client.responses.input_items.list(queued.id).data
    assert item.type == "message"


def test_background_requires_store(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        background(client, store=False)
    assert caught.value.body["param"] == "background"  # type: ignore[index]


def test_cancel_mid_generation(server: ServerProcess, client: OpenAI) -> None:
    payload = {
        "model": "gpt-5.1",
        "input": LONG_PROMPT,
        "temperature": 0,
        "max_output_tokens": 4000,
        "background": True,
        "stream": True,
    }
    with server.stream("/v1/responses", payload) as reply:
        first = None
        events = sse_events(reply)
        for event in events:
            if first is None:
                first = event
            if event["type"] == "response.output_text.delta":
                break  # generating: cancel now, while the stream is still open
        assert first is not None
        response_id = first["response"]["id"]
        cancelled = client.responses.cancel(response_id)
        rest = list(events)
    assert cancelled.status == "cancelled" and cancelled.id == response_id
    assert cancelled.usage is not None and 0 < cancelled.usage.output_tokens < 4000
    [message] = cancelled.output
    assert message.type == "message" and message.status == "incomplete"
    assert all(event["type"] not in TERMINAL_EVENTS for event in rest)  # the stream just ends
    again = client.responses.cancel(response_id)
    assert again == cancelled  # idempotent: the same cancelled response
    assert client.responses.retrieve(response_id) == cancelled


def test_cancel_finished_returns_it_unchanged(client: OpenAI) -> None:
    queued = background(client)
    done, _ = poll(client, queued.id, lambda r: r.status in TERMINAL)
    assert client.responses.cancel(queued.id) == done


def test_cancel_foreground_is_400(client: OpenAI) -> None:
    foreground = client.responses.create(
        model="gpt-5.1", input="Hi", temperature=0, max_output_tokens=16
    )
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(foreground.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_missing")


def test_streamed_background_resumes_exactly_after_starting_after(client: OpenAI) -> None:
    with background(client, stream=True, max_output_tokens=32) as stream:
        full = events_of(stream)
    check_stream_grammar(full)
    assert full[0]["type"] == "response.created"
    assert full[0]["response"]["status"] == "queued" and full[0]["response"]["background"]
    response_id = full[0]["response"]["id"]
    for cut in (-1, 3, len(full) // 2, len(full) - 2, len(full) - 1):
        with client.responses.retrieve(response_id, stream=True, starting_after=cut) as resumed:
            rest = events_of(resumed)
        assert rest == full[cut + 1 :]
        for event in rest:
            validate_stream_event(event)
        check_stream_grammar(full[: cut + 1] + rest)


def test_resume_a_live_stream_after_the_client_left(
    server: ServerProcess, client: OpenAI, http: httpx.Client
) -> None:
    """The job runs on without its client; the stream resumes from the last event read."""
    payload = {
        "model": "gpt-5.1",
        "input": "Write a short poem about rivers.",
        "temperature": 0,
        "max_output_tokens": 40,
        "background": True,
        "stream": True,
    }
    seen: list[dict[str, Any]] = []
    with server.stream("/v1/responses", payload) as reply:
        assert reply.status_code == 200
        for event in sse_events(reply):
            seen.append(event)
            if len(seen) == 6:
                break  # the client goes away mid-stream
    response_id = seen[0]["response"]["id"]
    last = seen[-1]["sequence_number"]
    with client.responses.retrieve(response_id, stream=True, starting_after=last) as resumed:
        rest = events_of(resumed)
    assert rest and rest[0]["sequence_number"] == last + 1
    check_stream_grammar(seen + rest)
    final = http.get(f"/v1/responses/{response_id}").json()
    assert final["status"] in ("completed", "incomplete")
    assert rest[-1]["response"] == final


def test_bad_resume_parameters(http: httpx.Client, client: OpenAI) -> None:
    queued = background(client)
    reply = http.get(f"/v1/responses/{queued.id}", params={"stream": "true", "starting_after": -5})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "starting_after"
    reply = http.get(f"/v1/responses/{queued.id}", params={"stream": "maybe"})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "stream"


def test_other_owner_gets_404_for_responses(
    client: OpenAI, server: ServerProcess, http: httpx.Client
) -> None:
    other = other_user_client(server.base_url, http)
    mine = client.responses.create(model="gpt-5.1", input="Hi", temperature=0, max_output_tokens=16)
    queued = background(client)
    for call in (
        lambda: other.responses.retrieve(mine.id),
        lambda: other.responses.delete(mine.id),
        lambda: other.responses.input_items.list(mine.id),
        lambda: other.responses.cancel(queued.id),
        lambda: other.responses.create(
            model="gpt-5.1", input="Again", previous_response_id=mine.id, max_output_tokens=16
        ),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert client.responses.retrieve(mine.id).id == mine.id  # still there, untouched


def test_restart_resumes_an_unseen_job_and_fails_a_streamed_one(
    data_dir: Path, tmp_path: Path
) -> None:
    """SQLite is one process: at start-up every unfinished job is a dead process's. One
    nobody saw any of is run again from the start; one a client was streamed is failed,
    its stored stream ending with that failure. (A scripted upstream: 40 ticks of 0.1 s.)"""
    standin = start_standin(tmp_path)
    config = tmp_path / "thinkgate.toml"
    config.write_text(_ticking(standin.base_url))
    first = ServerProcess(data_dir, config=config)
    try:
        client = make_client(first.base_url)
        unseen = background(client, model="slow")
        poll(client, unseen.id, lambda r: r.status == "in_progress")
        payload = {"model": "slow", "input": "Tick.", "background": True, "stream": True}
        seen: list[dict[str, Any]] = []
        with first.stream("/v1/responses", payload) as reply:
            for event in sse_events(reply):
                seen.append(event)
                if event["type"] == "response.output_text.delta":
                    break
        first.process.kill()  # a crash: nothing gets to clean up
        first.process.wait()
    finally:
        first.stop()
    second = ServerProcess(data_dir, config=config)
    try:
        client = make_client(second.base_url)
        resumed, statuses = poll(client, unseen.id, lambda r: r.status in TERMINAL)
        assert resumed.status == "completed", (resumed.error, statuses)
        assert resumed.output_text.count("tick") == 40  # whole, once
        streamed = seen[0]["response"]["id"]
        failed = client.responses.retrieve(streamed)
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.code == "server_error"
        assert "restarted" in failed.error.message
        last = seen[-1]["sequence_number"]
        with client.responses.retrieve(streamed, stream=True, starting_after=last) as rest:
            tail = events_of(rest)
        assert tail[-1]["type"] == "response.failed"  # after what was stored before the crash
        numbers = [event["sequence_number"] for event in tail]
        assert numbers == list(range(last + 1, last + 1 + len(tail)))  # no gap, no repeat
        assert client.responses.cancel(streamed) == failed  # terminal: unchanged
    finally:
        second.stop()
        standin.stop()


def _ticking(url: str) -> str:
    return server_config(
        channel("standin", url, {"slow": "ticks40:bg"}),
    )
