-- Tessera registry schema: which broker may obtain tokens for which client app (workload), for
-- which backend scopes, in which tenants.
--
-- Portable SQL: the same file runs on PostgreSQL and SQLite. TEXT ids (lower-case GUIDs), TEXT
-- timestamps in RFC 3339 UTC, BOOLEAN, BIGINT; no SERIAL, no enums. Ids are checked with
-- LENGTH/LOWER/TRIM(x, chars), which both engines implement identically.
--
-- On purpose there are NO foreign keys between these tables: an operator's migration may add rows
-- in any order, and `sts registry check` must be able to *find* a contradiction (a consent for an
-- unknown workload, a workload without a broker, a backend without a resource, a client app with
-- no certificate reference) and explain it, instead of the database refusing half a change.

-- Every Entra app registration Tessera knows about, by its application (client) id.
CREATE TABLE app_registrations (
    app_id       TEXT PRIMARY KEY
                 CHECK (LENGTH(app_id) = 36 AND app_id = LOWER(app_id)
                        AND TRIM(app_id, '0123456789abcdef-') = ''),
    -- broker: the SPA public client the browser signs in as (shared by all workloads).
    -- client: one confidential client per workload; the STS holds its certificate.
    -- backend: the resource the OBO token is for (Microsoft Graph, a vendor API, ...).
    role         TEXT NOT NULL CHECK (role IN ('broker', 'client', 'backend')),
    display_name TEXT NOT NULL,
    -- Backends only: what their scopes are written against, e.g. 'https://graph.microsoft.com'.
    resource_uri TEXT NULL
);

-- App ID URIs ('api://...') that a token for this app may carry as `aud` (v1 tokens do).
CREATE TABLE app_id_uris (
    app_id TEXT NOT NULL,
    uri    TEXT NOT NULL CHECK (LENGTH(uri) > 0),
    PRIMARY KEY (app_id, uri)
);
-- Entra keeps App ID URIs unique per tenant, and compares them without regard to case.
CREATE UNIQUE INDEX app_id_uris_uri ON app_id_uris (LOWER(uri));

-- One workload = one client app (e.g. the file-picker control).
CREATE TABLE workloads (
    name           TEXT PRIMARY KEY
                   CHECK (LENGTH(name) BETWEEN 1 AND 64
                          AND TRIM(name, 'abcdefghijklmnopqrstuvwxyz0123456789-') = ''
                          AND name NOT LIKE '-%' AND name NOT LIKE '%-'),
    client_app_id  TEXT NOT NULL UNIQUE
                   CHECK (LENGTH(client_app_id) = 36 AND client_app_id = LOWER(client_app_id)
                          AND TRIM(client_app_id, '0123456789abcdef-') = ''),
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    -- The delegated scope the client app exposes; the user's token must carry it in `scp`.
    required_scope TEXT NOT NULL DEFAULT 'access_as_user'
                   CHECK (LENGTH(required_scope) > 0 AND required_scope NOT LIKE '%/%'
                          AND required_scope NOT LIKE '% %')
);

-- Broker apps allowed to obtain user tokens for a workload's client app (`azp`/`appid`).
CREATE TABLE workload_brokers (
    workload      TEXT NOT NULL,
    broker_app_id TEXT NOT NULL
                  CHECK (LENGTH(broker_app_id) = 36 AND broker_app_id = LOWER(broker_app_id)
                         AND TRIM(broker_app_id, '0123456789abcdef-') = ''),
    PRIMARY KEY (workload, broker_app_id)
);

-- Backend scopes a workload may obtain via OBO. `scope` is the bare name ('Files.Read',
-- '.default'); the resource comes from the backend's `resource_uri`.
CREATE TABLE workload_backend_scopes (
    workload       TEXT NOT NULL,
    backend_app_id TEXT NOT NULL
                   CHECK (LENGTH(backend_app_id) = 36 AND backend_app_id = LOWER(backend_app_id)
                          AND TRIM(backend_app_id, '0123456789abcdef-') = ''),
    scope          TEXT NOT NULL
                   CHECK (LENGTH(scope) > 0 AND scope NOT LIKE '%/%' AND scope NOT LIKE '% %'),
    PRIMARY KEY (workload, backend_app_id, scope)
);
-- Scope names compare case-insensitively (as Entra does): no case-only duplicates.
CREATE UNIQUE INDEX workload_backend_scopes_ci
    ON workload_backend_scopes (workload, backend_app_id, LOWER(scope));

-- A tenant administrator's consent to one workload (broker + client app + its backends).
-- Operators change it with the portable upsert:
--   INSERT ... ON CONFLICT (tenant_id, workload) DO UPDATE SET status = excluded.status, ...
CREATE TABLE tenant_consents (
    tenant_id  TEXT NOT NULL
               CHECK (LENGTH(tenant_id) = 36 AND tenant_id = LOWER(tenant_id)
                      AND TRIM(tenant_id, '0123456789abcdef-') = ''),
    workload   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('granted', 'revoked')),
    -- RFC 3339 UTC, e.g. '2026-11-22T10:00:00Z'.
    changed_at TEXT NOT NULL CHECK (changed_at LIKE '____-__-__T__:__:__%Z'),
    -- Free text: the change ticket, who asked, ...
    reference  TEXT NULL,
    PRIMARY KEY (tenant_id, workload)
);

-- Which certificates the STS may sign client assertions with, per client app. References only
-- (SHA-256 thumbprint of the DER certificate, lower-case hex): private keys never live here.
CREATE TABLE client_certificates (
    client_app_id     TEXT NOT NULL
                      CHECK (LENGTH(client_app_id) = 36 AND client_app_id = LOWER(client_app_id)
                             AND TRIM(client_app_id, '0123456789abcdef-') = ''),
    thumbprint_sha256 TEXT NOT NULL
                      CHECK (LENGTH(thumbprint_sha256) = 64
                             AND TRIM(thumbprint_sha256, '0123456789abcdef') = ''),
    description       TEXT NOT NULL DEFAULT '',
    added_at          TEXT NOT NULL CHECK (added_at LIKE '____-__-__T__:__:__%Z'),
    PRIMARY KEY (client_app_id, thumbprint_sha256)
);
