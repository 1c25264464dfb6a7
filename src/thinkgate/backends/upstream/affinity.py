"""Session affinity: one session's requests go to one upstream channel (and account).

Upstream prompt caches live per account and per machine, and an upstream's sealed
reasoning opens only on the account that sealed it: a session spread over channels loses
its cache hits and meets `invalid_encrypted_content`. Inside a priority group:

    sealed reasoning replayed ─► the channel that sealed it (the latest such item) first
    previous_response_id      ─► then the channel that served that response
    a session key             ─► then rendezvous (highest-random-weight) order, weighted:
                                 adding or removing a channel moves only its own sessions
    no key, nothing pinned    ─► the weighted random draw (routing.draw_order)

The order is a pure function of the key and the channels' names and weights, so every
replica routes a session alike with no shared state. The router still passes over a
channel that is down (breaker open, backing off) or full: its sessions move to their next
channel in the same order, and come back when it recovers. Sealed reasoning goes only to
the channel that sealed it (`replayable`): elsewhere it is left out, never sent across.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass

from thinkgate.core.request import CanonicalRequest, Item

# Session headers clients send, in the order they are trusted as a session key.
SESSION_KEY_HEADERS = ("session-id", "session_id", "x-session-id")


@dataclass(slots=True, frozen=True)
class Affinity:
    key: str | None  # hashed into the order; None: the weighted random draw
    pinned: tuple[str, ...] = ()  # channel names that go first in their group, in order


def affinity_of(request: CanonicalRequest) -> Affinity | None:
    """What keeps this request with its session; None: nothing (a random draw)."""
    pinned: list[str] = []
    sealer = _latest_sealer(request)
    if sealer is not None:
        pinned.append(sealer)
    previous = request.context.previous_channel
    if previous is not None and previous not in pinned:
        pinned.append(previous)
    key = session_key(request)
    if key is None and not pinned:
        return None
    return Affinity(key, tuple(pinned))


def session_key(request: CanonicalRequest) -> str | None:
    """The first of `prompt_cache_key`, a session header, the conversation, the
    `safety_identifier` or `user`; scoped to the caller, so two tenants' equal keys (a
    common "default") do not pile onto one channel."""
    headers = request.context.session_headers
    found = (
        request.prompt_cache_key,
        *(headers.get(name) for name in SESSION_KEY_HEADERS),
        request.conversation_id,
        request.safety_identifier,
        request.user,
    )
    value = next((value for value in found if value), None)
    if value is None:
        return None
    return f"{request.context.owner or ''}\x00{value}"


def score(key: str, channel: str, weight: int) -> float:
    """A channel's rendezvous score for a key (highest wins): `-weight / ln(u)` with `u`
    a hash of (key, channel) in (0, 1): each channel wins weight/total of the keys (the
    logarithmic method of weighted rendezvous hashing). A stable hash, not `hash()`,
    which is salted per process."""
    data = f"{key}\x00{channel}".encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(data, digest_size=8).digest()
    unit = (int.from_bytes(digest, "big") + 0.5) / 2.0**64
    return -weight / math.log(unit)


def replayable(request: CanonicalRequest, channel: str, *, sole: bool) -> CanonicalRequest:
    """The request as `channel` may see it: a reasoning item's sealed copy goes only to the
    channel that sealed it (`sole`: a blob sealed before channels were recorded goes to the
    model's only channel). Any other reasoning item carrying one is left out (the
    upstream could not open it, and must never see another account's); the rest stays."""
    if not any(_foreign(item, request, channel, sole) for item in _sealed(request)):
        return request
    history = [
        item for item in request.context.history if not _foreign(item, request, channel, sole)
    ]
    return dataclasses.replace(
        request,
        input_items=[
            item for item in request.input_items if not _foreign(item, request, channel, sole)
        ],
        context=dataclasses.replace(request.context, history=history),
    )


def _sealed(request: CanonicalRequest) -> list[Item]:
    return [
        item
        for item in (*request.context.history, *request.input_items)
        if item.get("type") == "reasoning" and isinstance(item.get("encrypted_content"), str)
    ]


def _foreign(item: Item, request: CanonicalRequest, channel: str, sole: bool) -> bool:
    blob = item.get("encrypted_content")
    if item.get("type") != "reasoning" or not isinstance(blob, str):
        return False
    if blob not in request.context.sealed_by:  # ours (opened into `content`) or unreadable: no
        return True  # upstream can open it
    sealer = request.context.sealed_by[blob]
    return sealer != channel if sealer is not None else not sole


def _latest_sealer(request: CanonicalRequest) -> str | None:
    """The channel that sealed the latest replayed reasoning: the one worth keeping."""
    for item in reversed(_sealed(request)):
        sealer = request.context.sealed_by.get(item["encrypted_content"])
        if sealer is not None:
            return sealer
    return None
