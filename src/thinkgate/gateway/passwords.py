"""Console passwords: argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

Unlike API keys (random, 256 bits: a fast HMAC suffices), passwords are chosen by people,
so they get a slow, memory-hard hash. Hashes written before argon2 (`scrypt$…`) still
verify and are replaced by an argon2 hash at the next successful sign-in.
"""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# Verified when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("thinkgate-no-such-user")

MIN_LENGTH = 8
MAX_LENGTH = 200


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if stored is None:
        _verify_argon2(_DUMMY_HASH, password)
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(stored, password)
    return _verify_argon2(stored, password)


def needs_rehash(stored: str) -> bool:
    return stored.startswith("scrypt$") or _HASHER.check_needs_rehash(stored)


def _verify_argon2(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_scrypt(stored: str, password: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        computed = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)
