"""The gateway layer around the pipeline: API keys and authentication (billing, limits later).

The pipeline runs without it in tests of the engine alone.
"""

from thinkgate.gateway.keys import KeyRing, generate_key, hash_key

__all__ = ["KeyRing", "generate_key", "hash_key"]
