-- Cache hits of the same token, asked for within one write of the audit writer (under load, a
-- fraction of a second), are stored as one row: `hits` says how many exchanges the row stands for,
-- `at_ms` is the first of them and `last_at_ms` the last, `correlation_id` the first one's and
-- `latency_us` the slowest one's. Every other row (an issued token, a refusal, an error) stands
-- for exactly one exchange: `hits` = 1 and `last_at_ms` NULL. Entra's own sign-in logs aggregate
-- repeated non-interactive sign-ins the same way.
ALTER TABLE audit_records ADD COLUMN hits BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_records ADD COLUMN last_at_ms BIGINT NULL;
