"""A canonical request as JSON and back: what a background job keeps so that another
replica can run it again from the start (`store/background_jobs.py`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from thinkgate.core.request import CanonicalRequest, OutputFormat, Sampling

# Re-read from the store on every run (`ResponsesPipeline.prepare`), never kept.
_RESOLVED = ("history",)
_TUPLES = ("include", "explicit_sampling")


def request_to_json(request: CanonicalRequest) -> dict[str, Any]:
    data = {
        field.name: getattr(request, field.name)
        for field in dataclasses.fields(request)
        if field.name not in _RESOLVED
    }
    data["sampling"] = dataclasses.asdict(request.sampling)
    data["output_format"] = dataclasses.asdict(request.output_format)
    for name in _TUPLES:
        data[name] = list(data[name])
    return data


def request_from_json(data: dict[str, Any]) -> CanonicalRequest:
    values = dict(data)
    sampling = dict(values.pop("sampling", {}))
    sampling["stop"] = tuple(sampling.get("stop", ()))
    values["sampling"] = Sampling(**sampling)
    values["output_format"] = OutputFormat(**values.pop("output_format", {}))
    for name in _TUPLES:
        values[name] = tuple(values.get(name, ()))
    return CanonicalRequest(**values)
