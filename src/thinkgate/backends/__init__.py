"""Model backends behind one small Protocol, found by name in the registry.

The embedded llama.cpp engine registers exactly as an outside backend would.
"""

from thinkgate.backends.base import Backend, Capabilities, GenerationPlan
from thinkgate.backends.registry import ModelInfo, ModelRegistry

__all__ = ["Backend", "Capabilities", "GenerationPlan", "ModelInfo", "ModelRegistry"]
