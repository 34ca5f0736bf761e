-- Argo CD health check for the nylas-operator.io kinds (NylasConnector, NylasCredential,
-- ServiceAccountGrant). Argo CD runs it with the live object in the global `obj` and reads the
-- returned table: hs.status (Healthy, Progressing, Suspended, Degraded) and hs.message.
-- Lua 5.1 (gopher-lua): no goto, no integer division, no string.format("%q") surprises.
--
-- Order matters: stale status first (a Ready=True of an older generation says nothing about
-- the current spec), then the phase, then the Ready condition.

local hs = {}

-- Reasons of Ready=False that need a person (a spec or Secret change), not more waiting.
local terminal = {
  Conflict = true,
  WrongProvider = true,
  ScopesRequired = true,
  CustomScopesNeedTenant = true,
  InvalidServiceAccountKey = true,
  ConsentDenied = true,
  GrantInvalid = true,
  GrantMissing = true,
  Unauthorized = true,
  Forbidden = true,
  NylasRejected = true,
}

local progressingPhases = {
  Pending = true,
  ConsentSettling = true,
  Creating = true,
  Deleting = true,
}

local function condition(status, wanted)
  if status == nil or type(status.conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    if c.reason ~= nil and c.reason ~= "" then
      return c.reason .. ": " .. c.message
    end
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local status = obj.status
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local ready = condition(status, "Ready")
local observed = status.observedGeneration
if observed == nil and ready ~= nil then
  observed = ready.observedGeneration
end
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = status.phase

if phase == "Failed" or phase == "Degraded" then
  hs.status = "Degraded"
  hs.message = describe(ready, phase)
  return hs
end

if phase == "AwaitingConsent" or (phase == nil and ready ~= nil and ready.reason == "AwaitingConsent") then
  -- The consent URL carries the state token: do not copy it into Argo CD's UI; say where it is.
  -- Only the credential shows it (a grant's readers are not thereby approvers).
  hs.status = "Suspended"
  local where = "of this object"
  if obj.kind == "ServiceAccountGrant" then
    local ref = obj.spec and obj.spec.credentialRef
    if ref ~= nil and ref.name ~= nil then
      where = "of NylasCredential " .. ref.name
    else
      where = "of its NylasCredential"
    end
  end
  hs.message = "Awaiting admin consent: read status.consentUrl " .. where .. ", open it as a tenant "
    .. "administrator, or annotate it nylas-operator.io/admin-consent=granted"
  return hs
end

if phase == "Paused" then
  hs.status = "Suspended"
  hs.message = "Paused by the annotation nylas-operator.io/paused=true"
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

if ready ~= nil and ready.status == "False" and terminal[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready, "Not ready")
  return hs
end

if phase ~= nil and progressingPhases[phase] then
  hs.status = "Progressing"
  hs.message = describe(ready, phase)
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the Ready condition")
return hs
