"""HTTP only: one module per endpoint family, plus error rendering and SSE framing.

Handlers validate, build the canonical request, call the pipeline, render.
"""

__all__: list[str] = []
