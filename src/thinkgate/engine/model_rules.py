"""Per-model request rules: which reasoning efforts a model takes, GPT-5.1's rule that
sampling parameters (and chat's legacy `max_tokens`) are accepted only at effort `none`
(reference §7.2, §7.3), and the model's own sampling for what a request leaves unset."""

from __future__ import annotations

from thinkgate.backends.registry import ModelInfo
from thinkgate.core.backend import Capabilities
from thinkgate.core.request import CanonicalRequest
from thinkgate.errors import InvalidRequestError


def apply_model_rules(request: CanonicalRequest, info: ModelInfo) -> None:
    """Fill the effective effort, or refuse what this model does not accept."""
    effort = request.reasoning_effort or info.default_effort
    if effort not in info.reasoning_efforts:
        supported = _enumerate(info.reasoning_efforts)
        raise InvalidRequestError(
            f"Unsupported value: '{effort}' is not supported with the '{info.id}' model. "
            f"Supported values are: {supported}.",
            param=request.context.param_names.get("effort", "reasoning.effort"),
            code="unsupported_value",
        )
    request.reasoning_effort = effort
    request.context.raw_reasoning = not info.openai_rules  # GPT-5.1 never returns its thought
    if info.openai_rules and effort != "none":
        for name in request.context.explicit_sampling:
            raise InvalidRequestError(
                f"Unsupported parameter: '{name}' is not supported with this model.",
                param=name,
                code=None,
            )
        if request.sampling.logprobs:  # Responses asks for logprobs through `include`
            raise InvalidRequestError(
                "Unsupported parameter: 'logprobs' is not supported with this model.",
                param="include",
                code=None,
            )
        if request.context.legacy_max_tokens:
            raise InvalidRequestError(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                param="max_tokens",
                code="unsupported_parameter",
            )


def apply_sampling_defaults(request: CanonicalRequest, capabilities: Capabilities) -> None:
    """`temperature` / `top_p` the client left unset take the model's own defaults (an
    embedded model's, backends.sampling_defaults), so they are what it samples with and
    what the response echoes, as OpenAI echoes its model's. A value the server chose for
    its own request (compaction's greedy summary) is kept: only OpenAI's 1.0 is replaced.
    Upstreams have none here: an unset parameter stays unsent (backends.upstream)."""
    sampling = request.sampling
    defaults = {
        "temperature": capabilities.default_temperature,
        "top_p": capabilities.default_top_p,
    }
    for name, value in defaults.items():
        unset = name not in request.context.explicit_sampling and getattr(sampling, name) == 1.0
        if value is not None and unset:
            setattr(sampling, name, value)


def _enumerate(values: tuple[str, ...]) -> str:
    quoted = [f"'{value}'" for value in values]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
