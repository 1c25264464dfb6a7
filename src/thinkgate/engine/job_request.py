"""A canonical request as JSON and back: what a background job keeps so that another
replica can run it again from the start (`store/background_jobs.py`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from thinkgate.core.request import CanonicalRequest, OutputFormat, RequestContext, Sampling

# Re-read from the store on every run (`ResponsesPipeline.prepare`), never kept.
_RESOLVED = ("history",)
_TUPLES = ("include", "explicit_sampling", "hosted_price_keys")
# The context's fields sit beside the request's in one flat object, as they did before
# `RequestContext` was split off: a job stored by either version runs on the other.
_CONTEXT = frozenset(field.name for field in dataclasses.fields(RequestContext))


def request_to_json(request: CanonicalRequest) -> dict[str, Any]:
    data = {
        field.name: getattr(request, field.name)
        for field in dataclasses.fields(request)
        if field.name != "context"
    }
    for field in dataclasses.fields(request.context):
        if field.name not in _RESOLVED:
            data[field.name] = getattr(request.context, field.name)
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
    context = {name: values.pop(name) for name in _CONTEXT & values.keys()}
    return CanonicalRequest(**values, context=RequestContext(**context))
