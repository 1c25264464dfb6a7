"""Reasoning sealed for the client: `include: ["reasoning.encrypted_content"]`.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key kept in the data
dir, so a client on `store: false` can send a reasoning item back and the server puts
the thought back in context without having stored anything. A blob that fails the MAC
(tampered, or sealed by another server) is the client's error: 400 naming the item.
Each blob names its kind (`reasoning`, `compaction`): one is never accepted as the other.
An upstream's own sealed reasoning (kind `upstream`) also names the channel that sealed it,
so a replay is routed back to that account and never sent to another
(backends.upstream.affinity).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from thinkgate.core.backend import Batches, UsageMeter
from thinkgate.core.deltas import ReasoningDoneDelta
from thinkgate.core.request import CanonicalRequest
from thinkgate.errors import InvalidRequestError

KEY_FILE = "reasoning.key"
UPSTREAM = "upstream"  # the blob holds an upstream's own sealed reasoning
KINDS = ("reasoning", UPSTREAM)  # what a reasoning item's encrypted_content may be


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> Sealer:
        """The server's key, made on first start (owner-only file)."""
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    @classmethod
    def ephemeral(cls) -> Sealer:
        return cls(Fernet.generate_key())

    def seal(self, text: str, *, kind: str = "reasoning", channel: str | None = None) -> str:
        payload: dict[str, object] = {"v": 1, "kind": kind, "text": text}
        if channel is not None:
            payload["channel"] = channel
        return self._fernet.encrypt(json.dumps(payload).encode()).decode()

    def open(self, blob: str, *, param: str, kind: str = "reasoning") -> str:
        return self._open(blob, param=param, kinds=(kind,))[1]

    def _open(
        self, blob: str, *, param: str, kinds: tuple[str, ...]
    ) -> tuple[str, str, str | None]:
        """(kind, text, channel that sealed it) of a blob sealed as one of `kinds`."""
        try:
            payload = json.loads(self._fernet.decrypt(blob.encode()))
            # blobs sealed before kinds were named are reasoning
            kind = payload.get("kind", "reasoning")
            if kind not in kinds:
                raise ValueError(f"sealed {kind!r}, not one of {kinds!r}")
            channel = payload.get("channel")
            return str(kind), str(payload["text"]), None if channel is None else str(channel)
        except (InvalidToken, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequestError(
                "The encrypted content could not be verified: it was changed, or it was "
                "not produced by this server.",
                param=param,
                code="invalid_encrypted_content",
            ) from exc

    def seal_upstream(
        self, done: ReasoningDoneDelta, channel: str | None = None
    ) -> ReasoningDoneDelta:
        """An upstream's own sealed reasoning, sealed again as ours (kind `upstream`): the
        client holds one kind of blob, and only this server's blobs are accepted back.
        `channel`: the upstream channel (account) that sealed it, the only one it goes to."""
        if done.encrypted_content is None:
            return done
        sealed = self.seal(done.encrypted_content, kind=UPSTREAM, channel=channel)
        return dataclasses.replace(done, encrypted_content=sealed)

    def unseal_inputs(self, request: CanonicalRequest) -> None:
        """Reasoning items sent back with `encrypted_content` get their thought as content;
        an upstream's sealed reasoning gets the upstream's own blob back, for it alone
        (`request.context.sealed_by` names the channel that sealed each)."""
        for index, item in enumerate(request.input_items):
            blob = item.get("encrypted_content")
            if item.get("type") != "reasoning" or not isinstance(blob, str):
                continue
            param = f"input[{index}].encrypted_content"
            kind, text, channel = self._open(blob, param=param, kinds=KINDS)
            if kind == UPSTREAM:
                item["encrypted_content"] = text
                request.context.sealed_by[text] = channel
            else:
                item["content"] = [{"type": "reasoning_text", "text": text}]
        for index, item in enumerate(request.context.history):  # stored: sealed here, by us
            blob = item.get("encrypted_content")
            if item.get("type") != "reasoning" or not isinstance(blob, str):
                continue
            try:
                kind, text, channel = self._open(blob, param="previous_response_id", kinds=KINDS)
            except InvalidRequestError:  # an older key's: the item goes on as stored
                continue
            if kind == UPSTREAM:  # copied: history may be shared with other readers
                request.context.history[index] = {**item, "encrypted_content": text}
                request.context.sealed_by[text] = channel


async def sealed_upstream(
    sealer: Sealer, batches: Batches, meter: UsageMeter | None = None
) -> Batches:
    """`batches` with each upstream-sealed reasoning sealed again (`Sealer.seal_upstream`),
    naming the channel that served (`meter.channel`)."""
    try:
        async for batch in batches:
            if any(isinstance(delta, ReasoningDoneDelta) for delta in batch):
                channel = meter.channel if meter else None
                batch = [
                    sealer.seal_upstream(delta, channel)
                    if isinstance(delta, ReasoningDoneDelta)
                    else delta
                    for delta in batch
                ]
            yield batch
    finally:
        await batches.aclose()
