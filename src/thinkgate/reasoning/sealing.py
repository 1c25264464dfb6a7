"""Reasoning sealed for the client: `include: ["reasoning.encrypted_content"]`.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key kept in the data
dir, so a client on `store: false` can send a reasoning item back and the server puts
the thought back in context without having stored anything. A blob that fails the MAC
(tampered, or sealed by another server) is the client's error: 400 naming the item.
Each blob names its kind (`reasoning`, `compaction`): one is never accepted as the other.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from thinkgate.engine.request import CanonicalRequest
from thinkgate.errors import InvalidRequestError

KEY_FILE = "reasoning.key"


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

    def seal(self, text: str, *, kind: str = "reasoning") -> str:
        payload = {"v": 1, "kind": kind, "text": text}
        return self._fernet.encrypt(json.dumps(payload).encode()).decode()

    def open(self, blob: str, *, param: str, kind: str = "reasoning") -> str:
        try:
            payload = json.loads(self._fernet.decrypt(blob.encode()))
            # blobs sealed before kinds were named are reasoning
            if payload.get("kind", "reasoning") != kind:
                raise ValueError(f"sealed {payload.get('kind')!r}, not {kind!r}")
            return str(payload["text"])
        except (InvalidToken, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequestError(
                "The encrypted content could not be verified: it was changed, or it was "
                "not produced by this server.",
                param=param,
                code="invalid_encrypted_content",
            ) from exc

    def unseal_inputs(self, request: CanonicalRequest) -> None:
        """Reasoning items sent back with `encrypted_content` get their thought as content."""
        for index, item in enumerate(request.input_items):
            blob = item.get("encrypted_content")
            if item.get("type") != "reasoning" or not isinstance(blob, str):
                continue
            text = self.open(blob, param=f"input[{index}].encrypted_content")
            item["content"] = [{"type": "reasoning_text", "text": text}]
