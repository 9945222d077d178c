-- Example: revoke a tenant's consent to a workload. The row stays (with its history in your
-- migrations folder); the STS denies the tenant from the next snapshot reload on.
INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference)
VALUES ('caf30cf9-f297-46b2-aa07-de549604846f', 'expense-report', 'revoked',
        '2026-11-22T10:03:00Z', 'CHG-2077: contract ended')
ON CONFLICT (tenant_id, workload) DO UPDATE
SET status = excluded.status, changed_at = excluded.changed_at, reference = excluded.reference;
