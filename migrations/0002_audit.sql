-- One row per token-exchange decision of the STS. There is no token column, and there never
-- will be: the audit trail says who asked for what and what happened, not what was handed out.
CREATE TABLE audit_records (
    id             TEXT PRIMARY KEY,          -- UUID
    at_ms          BIGINT NOT NULL,           -- Unix time, milliseconds
    correlation_id TEXT NOT NULL,
    -- Unknown when a request fails before its token is validated.
    tenant_id      TEXT NULL,
    user_oid       TEXT NULL,
    broker_app_id  TEXT NULL,
    client_app_id  TEXT NULL,
    workload       TEXT NULL,
    backend        TEXT NULL,
    scopes         TEXT NULL,                 -- space-separated, fully qualified
    outcome        TEXT NOT NULL,             -- e.g. issued, denied, upstream_error
    error          TEXT NULL,                 -- OAuth error code / denial reason, never a token
    cache_hit      BOOLEAN NOT NULL,
    latency_us     BIGINT NOT NULL
);

CREATE INDEX audit_records_at_ms ON audit_records (at_ms);
