"""A Nylas v3 API emulator: a real aiohttp server with in-memory state, as strict as Nylas.

It is an independent implementation written from `nylas-api-v3.md` (it imports nothing of the
client, the API models or the controllers), so a misunderstanding shared with the client cannot
pass the tests. Start it with `nylas-operator emulator ...` or, in tests,
`with run_emulator(EmulatorConfig(...)) as emu:` (`harness.py`).

Modules: `config` (start-up settings and [U] knobs), `model` (records), `state` (the rules),
`schemas`/`validation` (strict bodies), `views` (API and introspection JSON), `envelopes`
(Nylas envelopes, paging), `pipeline` (request id, auth, rate limit, faults, journal, errors),
`routes_applications` (the application and its redirect URIs),
`routes_connectors`, `routes_credentials`, `routes_grants` (grants + connect/custom),
`routes_auth` (connect/auth admin consent), `routes_token` (a stand-in for Microsoft's
token endpoint, `POST /{tenant}/oauth2/v2.0/token`), `control` (`/_emulator/*`), `faults`, `ratelimit`,
`journal`, `runtime`, `app`, `harness`, `cli`.

Emulated surface: `GET /v3/applications`, `GET|POST /v3/applications/redirect-uris`,
`/v3/connectors[/{provider}]`, `/v3/connectors/{provider}/creds[/{id}]`,
`/v3/grants[/{id}]`, `POST /v3/connect/custom` (Microsoft and Google bulk variants),
`GET /v3/connect/auth?response_type=adminconsent`, and Microsoft's client-credentials token
endpoint `POST /{tenant}/oauth2/v2.0/token` (`routes_token.py`). Only the `google` and `microsoft` providers
are emulated; other documented providers are a 400 "not supported by this emulator".

Choices for facts the reference marks [U] (configurable where marked *, via `Behaviour`,
`PUT /_emulator/config` or CLI options):

1. Duplicate `POST /v3/connectors` for a provider -> 400 `invalid_request_error`
   "connector already exists" (* 409 `conflict`).
2. Credential create with an existing name: same type and data -> the existing credential with
   200 (* 201); different data -> 400. Names are unique per connector.
3. Credential responses carry `id, name, created_at, updated_at`, the contract's
   CredentialObject (* also `credential_type`, which the SDKs read); never `credential_data` or
   `hashed_data`. A missing credential (or one of another connector/application), or a missing
   connector on a creds path other than the list -> 400 `invalid_request_error` "... not found"
   (the contract documents only 400 and 401 there) (* 404 `not_found_error`).
4. Re-auth via `POST /v3/connect/custom` for an email that already has a grant -> same grant id,
   `grant_status` valid, 201, the only success the contract documents (* 200). Emails match
   case-insensitively. The same email with another provider -> 400. A deleted grant's email gets
   a new id (201).
5. Scope cache: a Microsoft custom auth before consent time + `scope_cache_delay` (default 300 s *),
   or with no/revoked consent -> 400 (* 403) `{type: "provider_error", provider_error: {code:
   "AADSTS65001", message: "AADSTS65001: The user or administrator has not consented ..."}}`.
   `provider_error` is a free-form object in the contract; its shape is configurable (*
   `provider_error_shape`): `code_message` (above), `int_code` (`{code: 65001, message}`),
   `oauth` (`{error: "invalid_grant", error_description}`), `nested_string` (`{error,
   provider_error: "<text>"}`, the contract's own example), or `random` (one per answer).
   A new approval restarts the window; changing a credential's `client_id` or `tenant` drops its
   consent (a secret rotation does not).
6. Consent redirect: success adds `admin_consent=true`, `tenant=<credential tenant, or a stable fake
   GUID for common>` and `state` (lower-case `true`); failure adds `error=access_denied`,
   `error_description`, `error_uri`, `state`. Existing query parameters of `redirect_uri` are kept.
   A browser "Deny" does not revoke an earlier consent; `POST /_emulator/consent` with
   `decision=deny` does. `state` is optional (<= 256 chars). Bad parameters -> 400 JSON. Redirect
   URIs: Nylas redirects only to URIs registered on the application (`/v3/applications/
   redirect-uris`). An application configured with `redirect_uris` (a list, possibly empty)
   enforces this: an unregistered one -> 400 `grant.callback_uri_not_allowed`, and
   `POST /v3/applications/redirect-uris` adds one. Without it (the default, for the sandbox) any
   absolute http(s) URI is accepted.
7. Deliberately stricter than the OpenAPI contract (Nylas may be laxer; a correct client is
   unaffected; docs/nylas-contract.md lists each with its reason): unknown body fields -> 400 (*)
   (the contract's request schemas are open objects; refusing catches `scopes` vs `scope` bugs),
   unknown query parameters on list endpoints -> 400 (*) (catches `status` vs `grant_status`,
   which Nylas would silently ignore), bodies must be `Content-Type: application/json` objects,
   `limit` must be 1..200 (* max) and a larger one is a 400, not clamped (the contract gives no
   maximum on admin lists; its general pagination text says 200), Google custom auth needs
   `settings.scopes` (the contract's Google bulk auth variant lists it without requiring it; a
   grant without scopes is useless), PATCH of a nested `settings`/`credential_data` must be
   complete (it replaces the stored object), `active_credential_id` must name a credential of
   that connector, adminconsent `credential_data` needs `client_id` and `client_secret` together.
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
