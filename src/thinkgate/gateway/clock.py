"""The wall clock of plan windows, which a test may move forward.

`THINKGATE_TEST_CLOCK_FILE` names a file holding a number of seconds added to the real
time (read again whenever the file changes). Tests set it to make a plan's window refill
without waiting hours; never set it in production. Unset: the real clock, no file read.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_ENV = "THINKGATE_TEST_CLOCK_FILE"


class Clock:
    def __init__(self, offset_file: str | None = None) -> None:
        self._file = Path(offset_file) if offset_file else None
        self._seen: float | None = None
        self._offset = 0.0

    @classmethod
    def from_environment(cls) -> Clock:
        return cls(os.environ.get(_ENV) or None)

    def now(self) -> float:
        if self._file is None:
            return time.time()
        try:
            changed = self._file.stat().st_mtime_ns
            if changed != self._seen:
                self._offset = float(self._file.read_text().strip() or 0)
                self._seen = changed
        except (OSError, ValueError):
            self._offset = 0.0
        return time.time() + self._offset
