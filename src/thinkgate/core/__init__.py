"""The shared vocabulary every layer speaks: Deltas, the canonical request, the backend
Protocol and its plan and capabilities, the gateway's admission hook. A leaf: it imports
nothing of thinkgate's but the error tree, so imports run one way (api → engine →
reasoning/backends → core; tests/project/test_layers.py)."""
