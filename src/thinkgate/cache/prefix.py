"""Keys for token prefixes: a chained hash at every aligned boundary.

A state is only reusable at chunk boundaries (prompts are evaluated in chunks aligned to
absolute positions, so a restored prefix continues with exactly the computation an
uncached run makes). Boundary k's digest covers the namespace and tokens [0, k*chunk),
so "the longest cached prefix" is a walk down the request's digests, one dict lookup each.

    namespace = sha256(model fingerprint, chunk size, prompt_cache_key)
    d_0 = namespace;  d_k = sha256(d_{k-1} || tokens[(k-1)*chunk : k*chunk] as int32 LE)

A prompt shorter than one chunk has no boundary; its whole-prompt ("exact") entry is
named by `exact_digest`, which no boundary digest can equal (a distinct domain tag).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Retention = Literal["in_memory", "24h"]


@dataclass(slots=True, frozen=True)
class PrefixKey:
    """Where entries may be shared: one model (file), one chunk size, one cache key."""

    model: str
    namespace: bytes
    chunk: int

    @classmethod
    def of(cls, model: str, fingerprint: str, chunk: int, cache_key: str | None) -> PrefixKey:
        keyed = "-" if cache_key is None else f"k:{cache_key}"
        digest = hashlib.sha256(f"{fingerprint}\0{chunk}\0{keyed}".encode()).digest()
        return cls(model=model, namespace=digest, chunk=chunk)

    def boundary_digests(self, tokens: Sequence[int], limit: int | None = None) -> list[bytes]:
        """Digests of the aligned prefixes [0, chunk), [0, 2*chunk), ... up to `limit` tokens."""
        end = len(tokens) if limit is None else min(limit, len(tokens))
        data = np.asarray(tokens[: end - end % self.chunk], dtype="<i4").tobytes()
        step = self.chunk * 4
        digests: list[bytes] = []
        current = self.namespace
        for start in range(0, len(data), step):
            current = hashlib.sha256(current + data[start : start + step]).digest()
            digests.append(current)
        return digests

    def exact_digest(self, tokens: Sequence[int]) -> bytes:
        """Names the state after exactly `tokens` (an exact entry: found only by equal prompts)."""
        data = np.asarray(tokens, dtype="<i4").tobytes()
        return hashlib.sha256(self.namespace + b"\0exact\0" + data).digest()


def tokens_to_bytes(tokens: Sequence[int]) -> bytes:
    return np.asarray(tokens, dtype="<u4").tobytes()


def tokens_from_bytes(data: bytes) -> tuple[int, ...]:
    return tuple(int(t) for t in np.frombuffer(data, dtype="<u4"))
