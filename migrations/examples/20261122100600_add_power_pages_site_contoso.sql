-- Example: a Power Pages site whose signed-in contacts may obtain the app-only workload above.
--
-- On the site (Power Pages management app → Site Settings):
--   ImplicitGrantFlow/RegisteredClientId   = contoso-invoices     (the client_id the page asks for)
--   ImplicitGrantFlow/TokenExpirationTime  = 900                  (60–3600 s; 900 by default)
-- The page asks the site for the contact's token (POST /_services/auth/token?client_id=…) and
-- sends it to the STS as `subject_token` with
-- `subject_token_type=urn:ietf:params:oauth:token-type:jwt` and `audience=invoice-archive`.
--
-- The STS checks the token's signature with the site's public key (fetched from key_url as PEM,
-- cached, refetched — at most every entra.key_refetch_interval_secs — when a signature fails after
-- a key rotation), `iss` = host, `aud`/`appid` = one of the client ids below, `exp`/`nbf` (with
-- entra.leeway_secs), and `sub` (the contact id, recorded in the audit trail with the site).

INSERT INTO sites (host, key_url, tenant_id, enabled)
VALUES ('contoso.powerappsportals.com',
        'https://contoso.powerappsportals.com/_services/auth/publickey',
        'caf30cf9-f297-46b2-aa07-de549604846f', TRUE);

-- The client ids (from ImplicitGrantFlow/RegisteredClientId) whose tokens the STS accepts.
INSERT INTO site_client_ids (host, client_id)
VALUES ('contoso.powerappsportals.com', 'contoso-invoices');

-- The (app-only) workloads the site's contacts may use. The site's tenant must have consented.
INSERT INTO site_workloads (host, workload)
VALUES ('contoso.powerappsportals.com', 'invoice-archive');
