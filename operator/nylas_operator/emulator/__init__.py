"""A Nylas v3 API emulator: a real aiohttp server with in-memory state, as strict as Nylas.

It is an independent implementation written from `nylas-api-v3.md` (it imports nothing of the
client, the API models or the controllers), so a misunderstanding shared with the client cannot
pass the tests. Start it with `nylas-operator emulator ...` or, in tests,
`with run_emulator(EmulatorConfig(...)) as emu:` (`harness.py`).

Modules: `config` (start-up settings and [U] knobs), `model` (records), `state` (the rules),
`schemas`/`validation` (strict bodies), `views` (API and introspection JSON), `envelopes`
(Nylas envelopes, paging), `pipeline` (request id, auth, rate limit, faults, journal, errors),
`routes_connectors`, `routes_credentials`, `routes_grants` (grants + connect/custom),
`routes_auth` (connect/auth admin consent), `control` (`/_emulator/*`), `faults`, `ratelimit`,
`journal`, `runtime`, `app`, `harness`, `cli`.

Emulated surface: `/v3/connectors[/{provider}]`, `/v3/connectors/{provider}/creds[/{id}]`,
`/v3/grants[/{id}]`, `POST /v3/connect/custom` (Microsoft and Google bulk variants),
`GET /v3/connect/auth?response_type=adminconsent`. Only the `google` and `microsoft` providers
are emulated; other documented providers are a 400 "not supported by this emulator".

Choices for facts the reference marks [U] (configurable where marked *, via `Behaviour`,
`PUT /_emulator/config` or CLI options):

1. Duplicate `POST /v3/connectors` for a provider -> 400 `invalid_request_error`
   "connector already exists" (* 409 `conflict`).
2. Credential create with an existing name: same type and data -> the existing credential with
   200 (* 201); different data -> 400. Names are unique per connector.
3. Credential responses carry `id, name, credential_type, created_at, updated_at` (never
   `credential_data`, never `hashed_data`). A missing credential (or one of another
   connector/application) -> 404 `not_found_error`; a missing connector on a creds path -> 404.
4. Re-auth via `POST /v3/connect/custom` for an email that already has a grant -> same grant id,
   `grant_status` valid, 200 (* 201). Emails match case-insensitively. The same email with another
   provider -> 400. A deleted grant's email gets a new id (201).
5. Scope cache: a Microsoft custom auth before consent time + `scope_cache_delay` (default 300 s *),
   or with no/revoked consent -> 400 (* 403) `{type: "provider_error", provider_error: {code:
   "AADSTS65001", message: "AADSTS65001: The user or administrator has not consented ..."}}`.
   A new approval restarts the window; changing a credential's `client_id` or `tenant` drops its
   consent (a secret rotation does not).
6. Consent redirect: success adds `admin_consent=true`, `tenant=<credential tenant, or a stable fake
   GUID for common>` and `state` (lower-case `true`); failure adds `error=access_denied`,
   `error_description`, `error_uri`, `state`. Existing query parameters of `redirect_uri` are kept.
   A browser "Deny" does not revoke an earlier consent; `POST /_emulator/consent` with
   `decision=deny` does. `state` is optional (<= 256 chars). Bad parameters -> 400 JSON. Redirect
   URIs are not checked against a registry unless an application lists `redirect_uris` (then an
   unregistered one -> 400 `grant.callback_uri_not_allowed`).
7. Strictness beyond the documented minimum (Nylas may be laxer; a correct client is unaffected):
   unknown body fields -> 400 (*), unknown query parameters on list endpoints -> 400 (*), bodies
   must be `Content-Type: application/json` objects, `limit` must be 1..200 (* max) and a larger
   one is a 400 (not clamped), PATCH of a nested `settings`/`credential_data` must be complete
   (it replaces the stored object), `active_credential_id` must name a credential of that connector.
8. Connector responses echo only non-secret settings (`topic_name`, `tenant`); `client_id` is not
   echoed (* echo it); `client_secret` never. Connector objects carry no `id` (as in the SPEC).
9. 401 -> `error.type` `unauthorized` (SPEC examples; the docs table says
   `api.authentication_error`). Unknown /v3 path -> 404 "Unrecognized request URL".
10. Grants: `sort_by`/`order_by` default `created_at`/`desc`; filters `email`, `provider`,
    `grant_status`, `since`, `before`; `ip`/`account_id`/`account_ids`/`workspace_id` are accepted
    and match nothing (emulated grants have none). `email:<addr>` grant-id patterns are not emulated.
11. Google custom auth needs a `serviceaccount` credential and non-empty `settings.scopes`
    (top-level `scope` does not replace it); key shape: `private_key_id`, PEM `private_key`
    (`-----BEGIN PRIVATE KEY-----`), email `client_email`, `type` (if present) `service_account`.
12. Rate limit (off by default *, e.g. 50/s): 429 `nylas_rate_limit_exceeded`, no `Retry-After`.
    Injected 429 faults are `rate_limit_error` with `Retry-After` (default 1 s).
13. Faults apply to /v3 API calls, not to `/_emulator/*` and not to the browser redirect
    `GET /v3/connect/auth`. `drop` closes the connection before the request is applied,
    `drop_after` after it was applied (the answer is lost). Endpoint rules (`rules`: method +
    glob path, optional count) pick one endpoint's calls, e.g. `hold_after` on
    `POST /v3/connect/custom` applies the create and holds the answer (a test kills the client
    meanwhile); rules win over the random rates.
"""
