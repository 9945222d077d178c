-- Example: record that a tenant's administrator consented to a workload.
-- An upsert, so the same statement also re-grants a consent that was revoked earlier.
-- `changed_at` is RFC 3339 UTC; `reference` is free text (ticket, who asked).
INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference)
VALUES ('caf30cf9-f297-46b2-aa07-de549604846f', 'expense-report', 'granted',
        '2026-11-22T10:02:00Z', 'CHG-2041: admin consent by it-admin@contoso.example')
ON CONFLICT (tenant_id, workload) DO UPDATE
SET status = excluded.status, changed_at = excluded.changed_at, reference = excluded.reference;
