"""Model backends behind one small Protocol, found by name in the registry.

The embedded llama.cpp engine registers exactly as an outside backend would.
"""

from thinkgate.backends.registry import ModelInfo, ModelRegistry
from thinkgate.core.backend import Backend, Capabilities, GenerationPlan

__all__ = ["Backend", "Capabilities", "GenerationPlan", "ModelInfo", "ModelRegistry"]
