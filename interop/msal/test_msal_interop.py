"""Interop: Microsoft's own MSAL Python against entra-emulator over HTTPS.

Runs three checks, prints `N passed, M failed`, exits non-zero on any failure:
  1. client credentials with a certificate (PFX: MSAL sends PS256 + padded x5t#S256)
  2. on-behalf-of with a certificate (PEM + SHA-1 thumbprint: RS256 + x5t), for a user token
     minted through the emulator's admin API
  3. an unregistered certificate surfaces as MSAL's own error dict (invalid_client, 700027)

Environment (set by run.sh): EMULATOR_HTTPS_BASE, REQUESTS_CA_BUNDLE (the emulator's CA).
"""

import base64
import datetime
import json
import os
import sys
import tempfile
import traceback

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

# From entra-emulator/examples/demo.toml.
TENANT = "11111111-1111-4111-8111-111111111111"
PICKER = "22222222-2222-4222-8222-222222222222"
BROKER = "33333333-3333-4333-8333-333333333333"
USER_OID = "aaaaaaaa-aaaa-4aaa-8aaa-000000000001"
GRAPH = "https://graph.microsoft.com"

BASE = os.environ["EMULATOR_HTTPS_BASE"]
AUTHORITY = f"{BASE}/{TENANT}"
CA = os.environ["REQUESTS_CA_BUNDLE"]


def new_certificate():
    """An RSA key and a self-signed certificate, like `New-SelfSignedCertificate` would make."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msal-interop")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def admin(method, path, body=None):
    resp = requests.request(method, f"{BASE}/_admin{path}", json=body, verify=CA, timeout=30)
    resp.raise_for_status()
    return resp.json() if resp.content else None


def register(cert):
    admin("POST", f"/tenants/{TENANT}/apps/{PICKER}/certificates", {"pem": cert_pem(cert)})


def app_with_pfx(key, cert, workdir):
    path = os.path.join(workdir, "picker.pfx")
    with open(path, "wb") as f:
        f.write(pkcs12.serialize_key_and_certificates(b"picker", key, cert, None, serialization.NoEncryption()))
    return msal.ConfidentialClientApplication(
        PICKER, authority=AUTHORITY, client_credential={"private_key_pfx_path": path}, instance_discovery=False
    )


def app_with_pem(key, cert):
    thumbprint = cert.fingerprint(hashes.SHA1()).hex()
    return msal.ConfidentialClientApplication(
        PICKER,
        authority=AUTHORITY,
        client_credential={"private_key": key_pem(key), "thumbprint": thumbprint},
        instance_discovery=False,
    )


def test_client_credentials_with_certificate(key, cert, workdir):
    result = app_with_pfx(key, cert, workdir).acquire_token_for_client([f"{GRAPH}/.default"])
    assert "access_token" in result, result
    c = claims(result["access_token"])
    assert c["aud"] == GRAPH, c
    assert c["appid"] == PICKER and c["appidacr"] == "2", c
    assert c["idtyp"] == "app", c


def test_on_behalf_of_with_certificate(key, cert, workdir):
    admin("DELETE", "/counters")
    user_token = admin(
        "POST",
        "/tokens/user",
        {"tenant": TENANT, "user": USER_OID, "client_app": PICKER, "broker_app": BROKER, "scopes": ["access_as_user"]},
    )["access_token"]
    result = app_with_pem(key, cert).acquire_token_on_behalf_of(user_token, [f"{GRAPH}/Files.Read"])
    assert "access_token" in result, result
    c = claims(result["access_token"])
    assert c["aud"] == GRAPH and c["scp"] == "Files.Read", c
    assert c["oid"] == USER_OID and c["tid"] == TENANT and c["appid"] == PICKER, c
    counters = admin("GET", "/counters")
    assert counters["by_client_and_grant"][PICKER]["on_behalf_of"] == {"requests": 1, "issued": 1}, counters


def test_unknown_certificate_is_msal_error(_key, _cert, workdir):
    other_key, other_cert = new_certificate()  # never registered
    result = app_with_pfx(other_key, other_cert, workdir).acquire_token_for_client([f"{GRAPH}/.default"])
    assert "access_token" not in result, result
    assert result.get("error") == "invalid_client", result
    assert 700027 in result.get("error_codes", []), result
    assert result.get("error_description", "").startswith("AADSTS700027:"), result


def main():
    key, cert = new_certificate()
    register(cert)
    tests = [
        test_client_credentials_with_certificate,
        test_on_behalf_of_with_certificate,
        test_unknown_certificate_is_msal_error,
    ]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        for test in tests:
            try:
                test(key, cert, workdir)
                print(f"PASS {test.__name__}")
                passed += 1
            except Exception:  # report every failure, keep going
                print(f"FAIL {test.__name__}")
                traceback.print_exc()
                failed += 1
    print(f"msal {msal.__version__}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
