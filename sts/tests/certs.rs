//! Client certificates: loading (PFX, PEM, configuration), thumbprints against OpenSSL, the
//! rotation order of `CredentialSet`, and redaction.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha1::Sha1;
use sha2::{Digest, Sha256};
use sts::CredentialConfig;
use sts::{CertError, Certificate, CredentialSet, Generated, generate_self_signed, generate_self_signed_with_validity};
use sts::{Password, PrivateKeyPem};

const APP: &str = "74d4521a-2fb0-478a-8f36-c6518b55ba49";
const OTHER_APP: &str = "067bdb17-4026-4f68-b529-94d1528fea12";
const NOW: i64 = 1_790_000_000;
const DAY: i64 = 86_400;

/// RSA generation takes a moment: one certificate for the tests that only read it.
fn shared() -> &'static Generated {
    static G: OnceLock<Generated> = OnceLock::new();
    G.get_or_init(|| generate_self_signed("certs-test.contoso.example", 30).unwrap())
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-certs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the OpenSSL CLI: the independent implementation these tests compare with.
fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().unwrap_or_else(|e| {
        panic!(
            "these tests compare with the OpenSSL CLI, which could not run ({e}); install it: apt-get install openssl"
        )
    });
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `sha1 Fingerprint=AB:CD:…` → lower-case hex without colons.
fn openssl_fingerprint(cert_pem: &Path, digest: &str) -> String {
    let out =
        String::from_utf8(openssl(&["x509", "-in", path_str(cert_pem), "-noout", "-fingerprint", digest])).unwrap();
    out.trim().rsplit('=').next().unwrap().replace(':', "").to_lowercase()
}

#[test]
fn thumbprints_match_openssl_and_the_digests() {
    let g = shared();
    let cert = g.certificate().unwrap();
    let dir = TempDir::new();
    let pem = dir.write("c.pem", g.cert_pem());

    assert_eq!(cert.info().sha1_hex(), openssl_fingerprint(&pem, "-sha1"));
    assert_eq!(cert.sha256_hex(), openssl_fingerprint(&pem, "-sha256"));
    assert_eq!(cert.thumbprint_sha1().as_slice(), Sha1::digest(cert.der()).as_slice());
    assert_eq!(cert.thumbprint_sha256().as_slice(), Sha256::digest(cert.der()).as_slice());

    // base64url, unpadded, of the raw digests (spec §2).
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    assert_eq!(b64.decode(cert.x5t()).unwrap(), cert.thumbprint_sha1());
    assert_eq!(b64.decode(cert.x5t_s256()).unwrap(), cert.thumbprint_sha256());
    assert!(!cert.x5t_s256().contains(['=', '+', '/']));

    // The DER is the certificate OpenSSL sees.
    let der = openssl(&["x509", "-in", path_str(&pem), "-outform", "DER"]);
    assert_eq!(cert.der(), der.as_slice());
    let subject = String::from_utf8(openssl(&["x509", "-in", path_str(&pem), "-noout", "-subject"])).unwrap();
    assert!(subject.contains("certs-test.contoso.example"), "{subject}");
    assert_eq!(cert.subject(), "CN=certs-test.contoso.example");
}

#[test]
fn generated_pfx_round_trips_with_the_same_thumbprints() {
    let g = shared();
    let password = Password::new("correct horse battery staple");
    let pfx = g.pfx(&password).unwrap();
    let from_pfx = Certificate::from_pfx(&pfx, &password).unwrap();
    let from_pem = g.certificate().unwrap();
    assert_eq!(from_pfx.thumbprint_sha1(), from_pem.thumbprint_sha1());
    assert_eq!(from_pfx.thumbprint_sha256(), from_pem.thumbprint_sha256());
    assert_eq!(from_pfx.der(), from_pem.der());
    assert_eq!((from_pfx.not_before(), from_pfx.not_after()), (from_pem.not_before(), from_pem.not_after()));

    // OpenSSL opens our PFX and finds the same certificate in it.
    let dir = TempDir::new();
    let pfx_path = dir.write("c.pfx", &pfx);
    let pass_arg = format!("pass:{}", password.expose());
    let certs_pem = openssl(&["pkcs12", "-in", path_str(&pfx_path), "-passin", &pass_arg, "-nokeys"]);
    let extracted = dir.write("from-pfx.pem", certs_pem);
    assert_eq!(openssl_fingerprint(&extracted, "-sha256"), from_pem.sha256_hex());
}

#[test]
fn openssl_made_pfx_files_load_modern_and_legacy() {
    let g = shared();
    let dir = TempDir::new();
    let cert = dir.write("c.pem", g.cert_pem());
    let key = dir.write("k.pem", g.key_pem().expose());
    for (name, extra) in [("modern.pfx", None), ("legacy.pfx", Some("-legacy"))] {
        let out = dir.0.join(name);
        let mut args =
            vec!["pkcs12", "-export", "-in", path_str(&cert), "-inkey", path_str(&key), "-out", path_str(&out)];
        args.extend(["-passout", "pass:s3cret"]);
        args.extend(extra);
        openssl(&args);
        let loaded = Certificate::from_pfx(&std::fs::read(&out).unwrap(), &Password::new("s3cret")).unwrap();
        assert_eq!(loaded.sha256_hex(), g.info().sha256_hex(), "{name}");
    }
}

#[test]
fn a_wrong_pfx_password_is_a_specific_error_without_the_password() {
    let pfx = shared().pfx(&Password::new("the-right-one")).unwrap();
    let err = Certificate::from_pfx(&pfx, &Password::new("Wrong-Password-123")).unwrap_err();
    assert!(matches!(err, CertError::WrongPfxPassword), "{err:?}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("Wrong-Password-123") && !shown.contains("the-right-one"), "{shown}");
    }
    assert!(matches!(Certificate::from_pfx(b"\x30\x03\x02\x01\x03", &Password::new("")), Err(CertError::Pfx(_))));
}

#[test]
fn pem_keys_load_as_pkcs8_and_pkcs1() {
    let g = shared();
    let dir = TempDir::new();
    let pkcs8 = g.key_pem().expose();
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key_path = dir.write("k8.pem", pkcs8);
    let pkcs1 = String::from_utf8(openssl(&["pkey", "-in", path_str(&key_path), "-traditional"])).unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{}", &pkcs1[..40]);

    let a = Certificate::from_pem(g.cert_pem(), pkcs8).unwrap();
    let b = Certificate::from_pem(g.cert_pem(), &pkcs1).unwrap();
    assert_eq!(a.thumbprint_sha256(), b.thumbprint_sha256());
    assert_eq!(a.thumbprint_sha256(), g.info().thumbprint_sha256());
}

#[test]
fn a_key_of_another_certificate_or_a_non_rsa_key_is_refused() {
    let other = generate_self_signed("other", 1).unwrap();
    let err = Certificate::from_pem(shared().cert_pem(), other.key_pem().expose()).unwrap_err();
    assert!(matches!(err, CertError::KeyMismatch), "{err:?}");

    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let err = Certificate::from_pem(shared().cert_pem(), &ec.serialize_pem()).unwrap_err();
    assert!(matches!(err, CertError::PrivateKey(_)), "{err:?}");
    assert!(err.to_string().contains("not RSA"), "{err}");
    assert!(matches!(
        Certificate::from_pem("no pem here", shared().key_pem().expose()),
        Err(CertError::Certificate(_))
    ));
}

#[test]
fn load_reads_pfx_with_a_password_file_and_pem_pairs() {
    let g = shared();
    let dir = TempDir::new();
    let pfx = dir.write("c.pfx", g.pfx(&Password::new("from-a-file")).unwrap());
    // Mounted secret files end with a newline that is not part of the password.
    let pw = dir.write("pw", "from-a-file\n");
    let cfg = CredentialConfig {
        client_app_id: APP.into(),
        pfx: Some(pfx.clone()),
        pfx_password_file: Some(pw),
        ..Default::default()
    };
    assert_eq!(Certificate::load(&cfg).unwrap().sha256_hex(), g.info().sha256_hex());

    let pem_cfg = CredentialConfig {
        client_app_id: APP.into(),
        cert_pem: Some(dir.write("c.pem", g.cert_pem())),
        key_pem: Some(dir.write("k.pem", g.key_pem().expose())),
        ..Default::default()
    };
    assert_eq!(Certificate::load(&pem_cfg).unwrap().sha256_hex(), g.info().sha256_hex());

    let unset = format!("TESSERA_TEST_UNSET_{}", uuid::Uuid::new_v4().simple());
    let env_cfg = CredentialConfig { pfx_password_env: Some(unset.clone()), pfx_password_file: None, ..cfg.clone() };
    assert!(matches!(Certificate::load(&env_cfg), Err(CertError::PasswordEnvMissing(v)) if v == unset));

    let both = CredentialConfig { cert_pem: pem_cfg.cert_pem.clone(), ..cfg.clone() };
    assert!(matches!(Certificate::load(&both), Err(CertError::Config { .. })));
    let neither = CredentialConfig { client_app_id: APP.into(), ..Default::default() };
    assert!(matches!(Certificate::load(&neither), Err(CertError::Config { .. })));
    let missing = CredentialConfig { pfx: Some(dir.0.join("nope.pfx")), ..cfg };
    assert!(matches!(Certificate::load(&missing), Err(CertError::Io { .. })));
}

#[test]
fn credential_set_load_names_the_failing_entry() {
    let dir = TempDir::new();
    let cfg = CredentialConfig {
        client_app_id: APP.into(),
        cert_pem: Some(dir.write("c.pem", shared().cert_pem())),
        key_pem: Some(dir.write("k.pem", "garbage")),
        ..Default::default()
    };
    let err = CredentialSet::load(std::slice::from_ref(&cfg)).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains(APP) && shown.contains("c.pem"), "{shown}");

    let good = CredentialConfig { key_pem: Some(dir.write("k2.pem", shared().key_pem().expose())), ..cfg };
    let set = CredentialSet::load(&[good]).unwrap();
    assert_eq!(set.client_apps().collect::<Vec<_>>(), vec![APP]);
}

fn cert_valid(cn: &str, from: i64, to: i64) -> Certificate {
    generate_self_signed_with_validity(cn, from, to).unwrap().certificate().unwrap()
}

fn subjects(set: &CredentialSet, app: &str, now: i64) -> Vec<String> {
    set.candidates(app, now).iter().map(|c| c.subject().to_owned()).collect()
}

#[test]
fn candidates_are_newest_valid_first_and_rejected_ones_last() {
    let older = cert_valid("older", NOW - 100 * DAY, NOW + 100 * DAY);
    let newer = cert_valid("newer", NOW - 10 * DAY, NOW + 300 * DAY);
    let expired = cert_valid("expired", NOW - 400 * DAY, NOW - DAY);
    let future = cert_valid("future", NOW + DAY, NOW + 400 * DAY);
    let other_app = cert_valid("other-app", NOW - DAY, NOW + DAY);
    let newer_sha = newer.thumbprint_sha256();
    let set = CredentialSet::from_certs(vec![
        (APP.into(), older),
        (APP.to_uppercase(), newer), // ids are matched case-insensitively
        (APP.into(), expired),
        (APP.into(), future),
        (OTHER_APP.into(), other_app),
    ]);

    assert_eq!(subjects(&set, APP, NOW), ["CN=newer", "CN=older"]);
    assert_eq!(subjects(&set, &APP.to_uppercase(), NOW), ["CN=newer", "CN=older"]);
    assert_eq!(subjects(&set, OTHER_APP, NOW), ["CN=other-app"]);
    assert!(set.candidates("00000000-0000-0000-0000-000000000000", NOW).is_empty());
    // Once valid, the future certificate is the newest.
    assert_eq!(subjects(&set, APP, NOW + 2 * DAY), ["CN=future", "CN=newer", "CN=older"]);

    // Entra rejects the newest: it moves behind the older one, and is counted.
    set.mark_bad_at(APP, &newer_sha, 700027, NOW);
    assert_eq!(subjects(&set, APP, NOW + 1), ["CN=older", "CN=newer"]);
    let report = set.expiry_report(NOW);
    let newer_line = report.iter().find(|e| e.subject == "CN=newer").unwrap();
    assert_eq!((newer_line.rejections, newer_line.days_left), (1, 300));
    assert_eq!(set.rejections_total(), 1);
    // The mark lapses, so a certificate uploaded late to the app registration wins again.
    assert_eq!(subjects(&set, APP, NOW + sts::BAD_MARK_SECS), ["CN=newer", "CN=older"]);

    // Unknown certificates and apps are ignored.
    set.mark_bad_at(APP, &[0; 32], 700027, NOW);
    set.mark_bad_at(OTHER_APP, &newer_sha, 700027, NOW);
    assert_eq!(set.rejections_total(), 1);
}

#[test]
fn expiry_report_lists_every_certificate_with_days_left() {
    let a = cert_valid("a", NOW - DAY, NOW + 10 * DAY + 5);
    let b = cert_valid("b", NOW - 30 * DAY, NOW - 2 * DAY);
    let (a_sha, b_sha) = (a.sha256_hex(), b.sha256_hex());
    let set = CredentialSet::from_certs(vec![(APP.into(), a), (OTHER_APP.into(), b)]);
    let mut report = set.expiry_report(NOW);
    report.sort_by(|x, y| x.subject.cmp(&y.subject));
    assert_eq!(report.len(), 2);
    assert_eq!((report[0].client_app_id.as_str(), report[0].sha256_hex.as_str()), (APP, a_sha.as_str()));
    assert_eq!((report[0].days_left, report[0].not_after), (10, NOW + 10 * DAY + 5));
    assert_eq!((report[1].client_app_id.as_str(), report[1].sha256_hex.as_str()), (OTHER_APP, b_sha.as_str()));
    assert_eq!(report[1].days_left, -2);
}

/// Shared across request tasks behind an `Arc`.
#[test]
fn certificates_and_sets_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Certificate>();
    send_sync::<CredentialSet>();
    send_sync::<Password>();
    send_sync::<PrivateKeyPem>();
}

#[test]
fn the_same_certificate_twice_is_kept_once() {
    let c = shared().certificate().unwrap();
    let set = CredentialSet::from_certs(vec![(APP.into(), c.clone()), (APP.into(), c)]);
    assert_eq!(set.expiry_report(NOW).len(), 1);
}

/// Fragments of the key's base64 body: if any shows up, key material leaked.
fn key_fragments(key_pem: &str) -> Vec<String> {
    key_pem.lines().filter(|l| !l.starts_with("-----")).map(|l| l[..l.len().min(24)].to_owned()).collect()
}

#[test]
fn debug_output_never_contains_key_material() {
    let g = shared();
    let password = Password::new("pfx-password-in-debug");
    let cert = Certificate::from_pfx(&g.pfx(&password).unwrap(), &password).unwrap();
    let set = CredentialSet::from_certs(vec![(APP.into(), cert.clone())]);
    let fragments = key_fragments(g.key_pem().expose());
    assert!(fragments.len() > 10);
    for shown in [
        format!("{cert:?}"),
        format!("{cert:#?}"),
        format!("{set:?}"),
        format!("{g:?}"),
        format!("{:?}", g.key_pem()),
        format!("{password:?}"),
        format!("{password}"),
        format!("{}", g.key_pem()),
        format!("{:?}", set.candidates(APP, cert.not_before() + 1)),
    ] {
        for f in &fragments {
            assert!(!shown.contains(f.as_str()), "key fragment {f} in {shown}");
        }
        assert!(!shown.contains("PRIVATE KEY") && !shown.contains("pfx-password-in-debug"), "{shown}");
    }
    assert_eq!(format!("{password:?}"), "Password([redacted])");
    assert_eq!(format!("{:?}", g.key_pem()), "PrivateKeyPem([redacted])");
    assert!(format!("{cert:?}").contains(&cert.sha256_hex()));
}
