"""Operations: Prometheus metrics, structured logs with request ids, draining on SIGTERM,
and `thinkgate doctor`. Nothing here sits on the generation path except two counters."""

from thinkgate.ops.drain import Drain
from thinkgate.ops.metrics import Metrics, ScrapeSources

__all__ = ["Drain", "Metrics", "ScrapeSources"]
