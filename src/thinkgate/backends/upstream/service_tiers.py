"""`service_tier` through an upstream channel: what it is sent, what the client is told.

OpenAI's tiers are `auto` (the default), `default`, `flex`, `priority` and `scale`; `fast`
is its other name for `priority` and `ultrafast` an access-controlled tier (openai SDK 3:
"The response will show `service_tier=priority` regardless of if you specify `fast` or
`priority`"). Another engine may know none of them and refuse the field, so a channel
declares its tiers (`service_tiers`, config.ChannelConfig) and is sent only those; a
channel that declares none is sent OpenAI's own names only. The response then shows the
tier that served, as OpenAI's does: the upstream's own report, else what it was asked
for, else `default` (nothing asked: its default tier served).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thinkgate.protocol.common import SERVICE_TIERS, shown_service_tier

OPENAI_TIERS = frozenset({"default", "flex", "priority", "scale"})  # `auto` is the default


def tier_for_channel(requested: str | None, declared: Mapping[Any, str] | None) -> str | None:
    """The tier sent upstream; None: the field is left out. `declared`: the channel's
    `service_tiers` (keyed by the client's tier names)."""
    if requested is None:
        return None
    if declared is not None:
        return declared.get(requested)
    return requested if requested in OPENAI_TIERS else None


@dataclass(slots=True, frozen=True)
class TierChoice:
    """One request's tier on one channel: what the client asked, what the upstream was sent."""

    requested: str | None
    sent: str | None

    def served(self, reported: object) -> str:
        """What the response shows; `reported`: the upstream's own `service_tier`, if any."""
        for tier in (reported, self.sent):
            if isinstance(tier, str) and tier in SERVICE_TIERS:
                return shown_service_tier(tier)
        if self.sent is None:
            return "default"
        return shown_service_tier(self.requested)  # the channel's own name: the client's tier
