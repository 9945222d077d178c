-- Power Pages sites and app-only workloads (issue 14).
--
-- A Power Pages site issues its own JWT to a signed-in portal user (a *contact*): signed with the
-- site's key, published as PEM at `https://<host>/_services/auth/publickey`, `iss` = the host,
-- `aud`/`appid` = a client id registered in the site setting `ImplicitGrantFlow/RegisteredClientId`,
-- `sub` = the contact id. Such a token is not Entra's, so it can never be an OBO assertion: a
-- contact can only be given an **app-only** token (client credentials, `<resource>/.default`) of a
-- workload that opted in to app-only and that the site may use.
--
-- Same conventions as 0001: portable SQL, no foreign keys (`sts registry check` reports a site
-- without client ids, a site workload that is unknown or not app-only, ...).

-- One Power Pages site whose tokens the STS accepts (`subject_token_type` = ...:token-type:jwt).
CREATE TABLE sites (
    -- Host name without scheme, lower case: the tokens' `iss`.
    host      TEXT PRIMARY KEY
              CHECK (LENGTH(host) BETWEEN 1 AND 253 AND host = LOWER(host)
                     AND TRIM(host, 'abcdefghijklmnopqrstuvwxyz0123456789.-:') = ''),
    -- Where the site's public key (PEM) is fetched, normally
    -- 'https://<host>/_services/auth/publickey'. `http://` only for loopback (tests, the demo).
    key_url   TEXT NOT NULL CHECK (key_url LIKE 'https://%' OR key_url LIKE 'http://127.0.0.1%'
                                   OR key_url LIKE 'http://localhost%'),
    -- The Entra tenant of the site's environment: its consents apply and its app-only tokens are
    -- requested in it.
    tenant_id TEXT NOT NULL
              CHECK (LENGTH(tenant_id) = 36 AND tenant_id = LOWER(tenant_id)
                     AND TRIM(tenant_id, '0123456789abcdef-') = ''),
    enabled   BOOLEAN NOT NULL DEFAULT TRUE
);

-- The client ids a site registered for its implicit grant that the STS accepts as the token's
-- `aud` / `appid` (a subset of the site setting `ImplicitGrantFlow/RegisteredClientId`).
CREATE TABLE site_client_ids (
    host      TEXT NOT NULL,
    client_id TEXT NOT NULL
              CHECK (LENGTH(client_id) BETWEEN 1 AND 36 AND client_id = LOWER(client_id)
                     AND TRIM(client_id, 'abcdefghijklmnopqrstuvwxyz0123456789-') = ''),
    PRIMARY KEY (host, client_id)
);

-- Workloads a site's contacts may obtain (app-only) tokens of.
CREATE TABLE site_workloads (
    host     TEXT NOT NULL,
    workload TEXT NOT NULL,
    PRIMARY KEY (host, workload)
);

-- Workloads that hand out app-only tokens (client credentials as the workload's client app, for
-- `<resource>/.default`; the backend scope row must be '.default'). Opt-in: a workload without a
-- row here is delegated (OBO) only. An Entra user gets the app-only token only when the token
-- carries `required_role` in `roles` or `required_group` in `groups` (at least one of the two is
-- required; both set means either suffices). Tenant consent (`tenant_consents`) still applies.
CREATE TABLE workload_app_only (
    workload       TEXT PRIMARY KEY,
    required_role  TEXT NULL CHECK (required_role IS NULL OR (LENGTH(required_role) BETWEEN 1 AND 120
                                                           AND required_role NOT LIKE '% %')),
    required_group TEXT NULL
                   CHECK (required_group IS NULL OR (LENGTH(required_group) = 36
                          AND required_group = LOWER(required_group)
                          AND TRIM(required_group, '0123456789abcdef-') = '')),
    CHECK (required_role IS NOT NULL OR required_group IS NOT NULL)
);

-- Who asked, for a portal subject: the site's host (`user_oid` then holds the contact id).
ALTER TABLE audit_records ADD COLUMN site TEXT NULL;
