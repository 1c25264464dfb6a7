"""Affinity routing (issue 23): a session keeps to one upstream channel (and account).

Unit-level: the weighted rendezvous order moves only a removed channel's share, and sealed
reasoning is never replayed to another channel. Server-level, four equal channels to one
stand-in upstream with a prompt cache and a sealing key per account
(tests/support/affinity_standin.py): a 20-turn session keeps ≥ 95% of a single channel's cached
tokens, against what the random draw keeps; a session moves only when its channel is
removed or down; encrypted reasoning never reaches another account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.support.config import channel, write_config
from tests.support.server import ManagedProcess, ServerProcess, make_client
from tests.support.upstreams import serve_module
from thinkgate.backends.upstream.affinity import Affinity, affinity_of, replayable
from thinkgate.backends.upstream.channel import Channel
from thinkgate.backends.upstream.routing import Route, draw_order, rendezvous
from thinkgate.config import ChannelConfig
from thinkgate.core.request import CanonicalRequest, RequestContext

ACCOUNTS = {"a": "acct-a", "b": "acct-b", "c": "acct-c", "d": "acct-d", "solo": "acct-s"}
INSTRUCTIONS = "You are a careful note taker. " * 40  # a long, shared system prompt
TURNS = 20


# --- unit: the order ----------------------------------------------------------------------


def _routes(*channels: tuple[str, int]) -> list[Route]:
    return [
        Route(
            Channel(
                ChannelConfig(
                    name=name,
                    kind="openai-responses",
                    base_url="http://x/v1",
                    models={"m": "m"},
                    weight=weight,
                )
            ),
            "m",
        )
        for name, weight in channels
    ]


def _winners(keys: list[str], routes: list[Route]) -> dict[str, str]:
    return {key: rendezvous(key, routes)[0].channel.name for key in keys}


def test_removing_or_adding_a_channel_moves_only_its_share() -> None:
    keys = [f"session-{n}" for n in range(4000)]
    four = _routes(("a", 1), ("b", 1), ("c", 1), ("d", 1))
    before = _winners(keys, four)
    shares = Counter(before.values())
    assert all(900 < shares[name] < 1100 for name in "abcd"), shares  # equal weights
    after = _winners(keys, [route for route in four if route.channel.name != "d"])
    moved = {key for key in keys if before[key] != after[key]}
    assert moved == {key for key in keys if before[key] == "d"}  # only d's sessions
    grown = _winners(keys, [*four, *_routes(("e", 1))])
    gained = {key for key in keys if before[key] != grown[key]}
    assert all(grown[key] == "e" for key in gained)  # only to the new channel
    assert 650 < len(gained) < 950  # about a fifth


def test_weights_are_respected_and_the_order_is_stable() -> None:
    keys = [f"user-{n}" for n in range(4000)]
    routes = _routes(("a", 1), ("b", 1), ("c", 2))
    shares = Counter(_winners(keys, routes).values())
    assert 900 < shares["a"] < 1100 and 1850 < shares["c"] < 2150, shares
    # the same order for the same key, whatever the listing order or process
    assert _winners(keys[:50], routes) == _winners(keys[:50], list(reversed(routes)))


def test_pinned_channels_go_first_within_their_priority() -> None:
    routes = _routes(("a", 1), ("b", 1), ("c", 1))
    hashed = [r.channel.name for r in draw_order(routes, affinity=Affinity("k"))]
    pinned = [r.channel.name for r in draw_order(routes, affinity=Affinity("k", (hashed[2],)))]
    assert pinned == [hashed[2], hashed[0], hashed[1]]  # then the rest in the key's order


def test_session_keys_and_their_precedence() -> None:
    request = CanonicalRequest(
        model="m", input_items=[], user="u1", context=RequestContext(owner="key_1")
    )
    assert (affinity := affinity_of(request)) is not None and affinity.key == "key_1\x00u1"
    request.context.session_headers = {"x-session-id": "s1"}
    assert (affinity := affinity_of(request)) is not None and affinity.key == "key_1\x00s1"
    request.prompt_cache_key = "p1"
    assert (affinity := affinity_of(request)) is not None and affinity.key == "key_1\x00p1"
    assert affinity_of(CanonicalRequest(model="m", input_items=[])) is None  # random draw


def test_sealed_reasoning_goes_only_to_the_channel_that_sealed_it() -> None:
    def reasoning(blob: str) -> dict[str, Any]:
        return {"type": "reasoning", "summary": [], "encrypted_content": blob}

    user = {"role": "user", "content": "next"}
    request = CanonicalRequest(
        model="m",
        input_items=[reasoning("from-b"), reasoning("ours"), user],
        context=RequestContext(
            history=[reasoning("from-a"), reasoning("legacy")],
            sealed_by={"from-a": "a", "from-b": "b", "legacy": None},  # "ours": opened here
        ),
    )
    affinity = affinity_of(request)
    assert affinity is not None and affinity.pinned == ("b",)  # the latest sealer first

    def blobs(channel: str, sole: bool = False) -> list[str]:
        sent = replayable(request, channel, sole=sole)
        return [item.get("encrypted_content", "") for item in sent.all_items]

    assert blobs("a") == ["from-a", ""]
    assert blobs("b") == ["from-b", ""]
    assert blobs("c") == [""]  # nothing sealed elsewhere crosses
    assert blobs("b", sole=True) == ["legacy", "from-b", ""]  # a model's only channel


# --- server: four channels, one stand-in with four accounts -------------------------------


def _front(root: Path, url: str, channels: list[str]) -> ServerProcess:
    root.mkdir()
    sections = [
        channel(
            name,
            url,
            {"solo" if name == "solo" else "cached": "cached"},
            kind="openai-responses",
            api_key_env=f"TEST_AFFINITY_KEY_{name.upper()}",
            breaker_failures=1,
            breaker_cooldown=0.5,
        )
        for name in channels
    ]
    config = write_config(root / "thinkgate.toml", *sections)
    keys = {f"TEST_AFFINITY_KEY_{name.upper()}": ACCOUNTS[name] for name in channels}
    return ServerProcess(root / "data", config=config, extra_env=keys)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    yield from serve_module(tmp_path_factory, "tests.support.affinity_standin")


@pytest.fixture(scope="module")
def fronts(
    tmp_path_factory: pytest.TempPathFactory, standin: ManagedProcess
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Four channels (and a single-channel `solo` model); and a replica with d removed."""
    root = tmp_path_factory.mktemp("affinity")
    four = _front(root / "four", standin.base_url, ["a", "b", "c", "d", "solo"])
    try:
        three = _front(root / "three", standin.base_url, ["a", "b", "c"])
    except BaseException:
        four.stop()
        raise
    yield four, three
    four.stop()
    three.stop()


@pytest.fixture(scope="module")
def api(fronts: tuple[ServerProcess, ServerProcess]) -> OpenAI:
    return make_client(fronts[0].base_url)


def _requests(standin: ManagedProcess) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = httpx.get(f"{standin.base_url}/stats").json()["requests"]
    return requests


def _served(standin: ManagedProcess, text: str) -> list[str]:
    """The accounts that answered (200) a turn whose last user message was `text`."""
    return [r["account"] for r in _requests(standin) if r["text"] == text and r["status"] == 200]


def _session(api: OpenAI, model: str, tag: str, **fields: Any) -> tuple[int, int]:
    """A 20-turn conversation the client keeps (store: false, the whole history sent each
    turn, as Codex does): (cached tokens, prompt tokens) over its turns."""
    history: list[Any] = []
    cached = prompt = 0
    for turn in range(TURNS):
        text = f"Session {tag}, turn {turn}: remember that item {turn} of {tag} is fine."
        history.append({"role": "user", "content": text})
        response = api.responses.create(
            model=model, instructions=INSTRUCTIONS, input=history, store=False, **fields
        )
        assert response.usage is not None and response.usage.input_tokens_details
        cached += response.usage.input_tokens_details.cached_tokens
        prompt += response.usage.input_tokens
        history.append({"role": "assistant", "content": response.output_text})
    return cached, prompt


def test_affinity_keeps_a_sessions_prefix_cache(api: OpenAI, standin: ManagedProcess) -> None:
    single, prompt = _session(api, "solo", "single", prompt_cache_key="conv-1")
    affine, _ = _session(api, "cached", "affine", prompt_cache_key="conv-2")
    drawn, _ = _session(api, "cached", "random")  # no key: the weighted random draw
    print(
        f"\ncached tokens over {TURNS} turns ({prompt} prompt tokens): one channel {single}, "
        f"four with affinity {affine} ({affine / single:.1%}), "
        f"four drawn at random {drawn} ({drawn / single:.1%})"
    )
    assert affine >= 0.95 * single
    assert affine > drawn
    assert (
        len(
            set(_served(standin, "Session affine, turn 7: remember that item 7 of affine is fine."))
        )
        == 1
    )
    spread = {r["account"] for r in _requests(standin) if r["text"].startswith("Session random")}
    assert len(spread) > 1  # the keyless session was spread


def test_previous_response_id_follows_the_channel_that_served(
    api: OpenAI, standin: ManagedProcess
) -> None:
    """No key at all: the first turn is drawn, every later turn goes where the last went."""
    previous: str | None = None
    for turn in range(5):
        response = api.responses.create(
            model="cached", input=f"Chain turn {turn}.", previous_response_id=previous
        )
        previous = response.id
    accounts = [_served(standin, f"Chain turn {turn}.") for turn in range(5)]
    assert all(len(served) == 1 for served in accounts)
    assert len({served[0] for served in accounts}) == 1


def test_a_session_header_keeps_the_session(api: OpenAI, standin: ManagedProcess) -> None:
    """Codex's `session-id` alone holds a session to its channel, and reaches it."""
    for turn in range(5):
        api.responses.create(
            model="cached",
            input=f"Header turn {turn}.",
            extra_headers={"session-id": "019a-codex-thread"},
        )
    served = [_served(standin, f"Header turn {turn}.") for turn in range(5)]
    assert len({account for accounts in served for account in accounts}) == 1
    headers = [r["session_id"] for r in _requests(standin) if r["text"].startswith("Header")]
    assert headers == ["019a-codex-thread"] * 5


def test_removing_a_channel_moves_only_its_sessions(
    fronts: tuple[ServerProcess, ServerProcess], standin: ManagedProcess
) -> None:
    """The same sessions through the four-channel server and a replica without `d`."""
    placed: dict[str, list[str]] = {}
    for front in fronts:
        client = make_client(front.base_url)
        for n in range(24):
            text = f"Placement {n} via {front.port}."
            client.responses.create(model="cached", input=text, prompt_cache_key=f"placed-{n}")
            placed.setdefault(f"placed-{n}", []).extend(_served(standin, text))
    assert all(len(accounts) == 2 for accounts in placed.values())
    on_d = {key for key, (before, _) in placed.items() if before == "acct-d"}
    assert on_d and len({before for before, _ in placed.values()}) == 4  # spread over four
    for key, (before, after) in placed.items():
        assert (before == after) == (key not in on_d), (key, before, after)


def test_encrypted_reasoning_never_crosses_accounts(api: OpenAI, standin: ManagedProcess) -> None:
    """Reasoning replayed (store: false) goes back to the account that sealed it, whatever
    the session key says; with that account down it is left out, never sent across."""
    include = ["reasoning.encrypted_content"]
    history: list[Any] = []
    for turn in range(6):  # the key changes each turn: the sealed reasoning holds it
        history.append({"role": "user", "content": f"Sealed turn {turn}."})
        response = api.responses.create(
            model="cached",
            input=history,
            store=False,
            include=include,
            prompt_cache_key=f"moving-{turn}",
        )
        history += [item.model_dump(exclude_none=True) for item in response.output]
    served = [_served(standin, f"Sealed turn {turn}.") for turn in range(6)]
    sealer = served[0][0]
    assert served == [[sealer]] * 6
    assert sum(item.get("type") == "reasoning" for item in history) == 6

    httpx.post(f"{standin.base_url}/down/{sealer}")
    try:
        history.append({"role": "user", "content": "Sealed turn with its account down."})
        response = api.responses.create(model="cached", input=history, store=False, include=include)
        assert response.status == "completed"
    finally:
        httpx.post(f"{standin.base_url}/up/{sealer}")
    (elsewhere,) = _served(standin, "Sealed turn with its account down.")
    assert elsewhere != sealer
    last = [r for r in _requests(standin) if r["text"] == "Sealed turn with its account down."]
    assert last[-1]["blobs"] == []  # left out for the other account
    assert httpx.get(f"{standin.base_url}/stats").json()["foreign"] == []
