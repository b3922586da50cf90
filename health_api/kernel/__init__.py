"""The surface kernel: what REST (``api/``) and MCP (``mcp/``) share above the services.

- :mod:`~health_api.kernel.bootstrap`: the one object built at start-up (settings, storage,
  keys, signing and key-id secrets, clinic zone, limiters) and the ``Caller`` an API key gives;
- :mod:`~health_api.kernel.catalogue`: the one error catalogue (domain error -> status, problem
  type, title, agent advice) that both surfaces render;
- :mod:`~health_api.kernel.idempotent`: the one idempotent-call wrapper, fed by a surface with a
  scope, a fingerprint and an answer codec.

No web framework and no MCP SDK here: a new surface adds rendering, not rules.
"""
