-- Example: tell the STS which certificate it may sign the client app's assertions with.
-- Only a reference: the SHA-256 thumbprint of the DER certificate in lower-case hex, e.g.
--   openssl x509 -in cert.pem -outform DER | sha256sum
-- The private key stays in the STS's key store, never in this database. Add the new certificate
-- before the old one expires (rotation); the STS uses the newest valid one.
INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at)
VALUES ('067bdb17-4026-4f68-b529-94d1528fea12',
        '103871791ac8e10e655ae8bfee4dcde314ccaa46ad75569f4d229ee38ab8faf1',
        'expense-report 2026 (CN=expense-report.contoso.example)', '2026-11-22T10:04:00Z');
