"""Admin consent: state tokens and the callback HTTP endpoint.

Owns: creating/hashing/validating consent ``state`` tokens (``tokens``), the outcome/recorder
contract (``recording``), the HTML pages (``pages``), per-client rate limiting (``ratelimit``) and the
aiohttp callback application (``callback``).
Does not own: building the consent URL (``nylas_operator.nylas.auth``) or finding and patching the
credential a state belongs to (the controllers implement ``ConsentRecorder``).
"""
