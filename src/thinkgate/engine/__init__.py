"""The one generation path: canonical request → backend Deltas → Response and events.

Chat Completions is translated into the canonical request here and rendered back here.
"""

from thinkgate.core.deltas import Delta, FinishDelta, PromptDelta, TextDelta
from thinkgate.core.request import CanonicalRequest, OutputFormat

__all__ = [
    "CanonicalRequest",
    "Delta",
    "FinishDelta",
    "OutputFormat",
    "PromptDelta",
    "TextDelta",
]
