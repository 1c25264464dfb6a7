"""Gateway overhead: thinkgate and LiteLLM's proxy in front of the same fixed-response upstream."""
