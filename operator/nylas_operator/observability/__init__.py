"""Observability: Prometheus metrics, liveness/readiness with a watch canary, logging with redaction.

Owns: ``metrics`` (a dedicated registry and typed recorders), ``endpoints`` (path templating for
metric labels), ``health`` (``HealthState``, the health and metrics aiohttp apps), ``serving`` (start
and stop an aiohttp app on a port), ``logging`` (text/JSON setup) and ``redaction`` (the secret
registry and log filter). Does not own: what the canary writes or which handlers feed ``HealthState``
(the runner and controllers wire those).
"""
