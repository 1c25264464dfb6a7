"""thinkgate: a self-hosted, GPT-5.1-compatible API platform.

Serves the Responses and Chat Completions APIs from embedded or upstream models.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
