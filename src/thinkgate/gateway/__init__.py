"""The gateway layer around the pipeline: keys and users, pricing, the billing ledger,
budgets and rate limits (in-process, or shared through Redis).

The pipeline runs without it: the gateway enters only as the `Admission` given to a run.
"""

from thinkgate.gateway.account import Account
from thinkgate.gateway.admin import Admin, KeySpec
from thinkgate.gateway.keys import KeyRing, generate_key, hash_key
from thinkgate.gateway.pricing import PriceTable, usd
from thinkgate.gateway.service import Gateway

__all__ = [
    "Account",
    "Admin",
    "Gateway",
    "KeyRing",
    "KeySpec",
    "PriceTable",
    "generate_key",
    "hash_key",
    "usd",
]
