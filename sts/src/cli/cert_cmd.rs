//! `sts cert new|inspect`: make a client-app certificate, and examine one.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::certs::{self, CertError, CertInfo, Certificate};
use crate::secret::Password;

#[derive(Debug, clap::Subcommand)]
pub enum CertCommand {
    /// Make a self-signed certificate + key (PFX and PEM) and print what to upload to the app registration.
    New {
        /// Common name of the subject, e.g. `file-picker.contoso.example`. Also names the files.
        #[arg(long)]
        cn: String,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Directory to write the files to (created if missing; existing files are never overwritten).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// env var holding the PFX password (else a random one is generated and written to <cn>.pfx.password with 0600 perms; say so)
        #[arg(long)]
        password_env: Option<String>,
    },
    /// Print subject, validity and SHA-1 / SHA-256 thumbprints (hex and base64url) of a PEM/DER/PFX file.
    Inspect {
        file: PathBuf,
        /// env var holding the PFX password (a PFX without one is opened with the empty password).
        #[arg(long)]
        password_env: Option<String>,
    },
}

pub async fn run(cmd: CertCommand) -> anyhow::Result<ExitCode> {
    let now = certs_now();
    match cmd {
        CertCommand::New { cn, days, out, password_env } => {
            let password = password_env.as_deref().map(password_from_env).transpose()?;
            let report = create(&cn, days, &out, password, now)?;
            print!("{report}");
        }
        CertCommand::Inspect { file, password_env } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let password = password_env.as_deref().map(password_from_env).transpose()?;
            print!("{}", inspect(&bytes, password.as_ref(), now)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn certs_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn password_from_env(var: &str) -> anyhow::Result<Password> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Password::new(v)),
        _ => bail!("the environment variable {var} (--password-env) is not set or empty"),
    }
}

/// The files `new` writes for one common name.
struct NewFiles {
    cert: PathBuf,
    key: PathBuf,
    pfx: PathBuf,
    password: PathBuf,
}

impl NewFiles {
    fn new(out: &Path, cn: &str) -> Self {
        // The CN may hold characters a file name should not (spaces, slashes).
        let stem: String =
            cn.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
        Self {
            cert: out.join(format!("{stem}.cert.pem")),
            key: out.join(format!("{stem}.key.pem")),
            pfx: out.join(format!("{stem}.pfx")),
            password: out.join(format!("{stem}.pfx.password")),
        }
    }
}

/// `sts cert new`: generates, writes the files (never overwriting) and returns what to print.
/// `password` is the PFX password from `--password-env`; `None` generates one and writes it
/// next to the PFX.
fn create(cn: &str, days: u32, out: &Path, password: Option<Password>, now: i64) -> anyhow::Result<String> {
    if days == 0 {
        bail!("--days must be at least 1");
    }
    let files = NewFiles::new(out, cn);
    let generated_password = password.is_none();
    let mut targets = vec![&files.cert, &files.key, &files.pfx];
    if generated_password {
        targets.push(&files.password);
    }
    // All or nothing: refuse before writing anything rather than leave a half-made set.
    if let Some(existing) = targets.iter().find(|p| p.exists()) {
        bail!("{} already exists; not overwriting (choose another --out or --cn)", existing.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

    let password = match password {
        Some(p) => p,
        None => random_password()?,
    };
    let generated = certs::generate_self_signed_at(cn, days, now)?;
    let pfx = generated.pfx(&password)?;

    write_new(&files.cert, generated.cert_pem().as_bytes(), 0o644)?;
    write_new(&files.key, generated.key_pem().expose().as_bytes(), 0o600)?;
    write_new(&files.pfx, &pfx, 0o600)?;
    if generated_password {
        write_new(&files.password, format!("{}\n", password.expose()).as_bytes(), 0o600)?;
    }

    let info = generated.info();
    let mut s = String::new();
    let _ = writeln!(s, "Created a self-signed client certificate (RSA 2048):");
    let _ = writeln!(
        s,
        "  {}  certificate: upload this to the app registration (Certificates & secrets > Certificates > Upload)",
        files.cert.display()
    );
    let _ = writeln!(s, "  {}  private key, PKCS#8 PEM (mode 0600)", files.key.display());
    if generated_password {
        let _ = writeln!(
            s,
            "  {}  certificate + key, PKCS#12; its password was generated and written to {} (mode 0600)",
            files.pfx.display(),
            files.password.display()
        );
    } else {
        let _ = writeln!(
            s,
            "  {}  certificate + key, PKCS#12, protected by the --password-env password",
            files.pfx.display()
        );
    }
    s.push('\n');
    s.push_str(&describe(info, now));
    s.push_str("\nSTS configuration (TOML):\n  [[credentials]]\n  client_app_id = \"<client-app-id>\"\n");
    let _ = writeln!(s, "  pfx = {:?}", files.pfx.display().to_string());
    if generated_password {
        let _ = writeln!(s, "  pfx_password_file = {:?}", files.password.display().to_string());
    } else {
        let _ = writeln!(s, "  pfx_password_env = \"<the --password-env variable>\"");
    }
    let _ = writeln!(s, "\nRegistry migration (the certificate reference; replace <client-app-id>):");
    let _ = writeln!(s, "  {}", registry_sql(info, cn, now)?);
    Ok(s)
}

/// The registry-migration line that records a certificate reference (never key material).
fn registry_sql(info: &CertInfo, cn: &str, now: i64) -> anyhow::Result<String> {
    Ok(format!(
        "INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at) \
         VALUES ('<client-app-id>', '{}', '{}', '{}');",
        info.sha256_hex(),
        cn.replace('\'', "''"),
        rfc3339(now)?
    ))
}

/// 24 random bytes, base64url: 192 bits, printable, safe in any shell or secret store.
fn random_password() -> anyhow::Result<Password> {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(Password::new(URL_SAFE_NO_PAD.encode(bytes)))
}

/// Creates `path` (failing if it exists) with `mode` on Unix, so a key is never briefly readable.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `sts cert inspect`: PEM (every certificate in it), DER, or PFX (certificate + key check).
fn inspect(bytes: &[u8], password: Option<&Password>, now: i64) -> anyhow::Result<String> {
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let text = std::str::from_utf8(bytes).context("a PEM file must be text")?;
        let all = CertInfo::all_from_pem(text)?;
        if all.is_empty() {
            bail!("the PEM file holds no CERTIFICATE block (a key file? inspect the certificate instead)");
        }
        let mut s = String::new();
        for (i, info) in all.iter().enumerate() {
            if all.len() > 1 {
                let _ = writeln!(s, "certificate {} of {}:", i + 1, all.len());
            }
            s.push_str(&describe(info, now));
        }
        return Ok(s);
    }
    if let Ok(info) = CertInfo::from_der(bytes) {
        return Ok(describe(&info, now));
    }
    let empty = Password::new("");
    match Certificate::from_pfx(bytes, password.unwrap_or(&empty)) {
        Ok(cert) => Ok(format!("{}private key:       RSA, matches the certificate\n", describe(cert.info(), now))),
        Err(CertError::WrongPfxPassword) if password.is_none() => {
            bail!("the PFX needs a password: put it in an environment variable and pass --password-env NAME")
        }
        Err(CertError::Pfx(reason)) => bail!("not a PEM, DER or PFX certificate file ({reason})"),
        Err(e) => Err(e.into()),
    }
}

/// Subject, validity and thumbprints, one per line.
fn describe(info: &CertInfo, now: i64) -> String {
    let days = (info.not_after() - now).div_euclid(86_400);
    let status = if now > info.not_after() {
        "EXPIRED".to_owned()
    } else if now < info.not_before() {
        "not valid yet".to_owned()
    } else {
        format!("valid, {days} days left")
    };
    let self_signed = if info.issuer() == info.subject() { " (self-signed)" } else { "" };
    let time = |t| rfc3339(t).unwrap_or_else(|_| t.to_string());
    let mut s = String::new();
    let _ = writeln!(s, "subject:           {}", info.subject());
    let _ = writeln!(s, "issuer:            {}{self_signed}", info.issuer());
    let _ = writeln!(s, "not before:        {}", time(info.not_before()));
    let _ = writeln!(s, "not after:         {} ({status})", time(info.not_after()));
    let _ = writeln!(s, "SHA-1 hex:         {}", info.sha1_hex());
    let _ = writeln!(s, "SHA-1 base64url:   {}  (x5t)", info.x5t());
    let _ = writeln!(s, "SHA-256 hex:       {}", info.sha256_hex());
    let _ = writeln!(s, "SHA-256 base64url: {}  (x5t#S256)", info.x5t_s256());
    s
}

/// RFC 3339 UTC to the second, `2026-11-22T10:04:00Z`: the registry's `added_at` form.
fn rfc3339(t: i64) -> anyhow::Result<String> {
    let dt = time::OffsetDateTime::from_unix_timestamp(t)?;
    Ok(dt.format(&time::format_description::well_known::Rfc3339)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!("tessera-cert-cmd-{}", uuid::Uuid::new_v4())))
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const NOW: i64 = 1_790_000_000; // 2026-09-21

    #[test]
    fn new_writes_consistent_files_with_private_modes() {
        let dir = TempDir::new();
        let report = create("file-picker.contoso.example", 90, &dir.0, None, NOW).unwrap();
        let files = NewFiles::new(&dir.0, "file-picker.contoso.example");

        let cert_pem = std::fs::read_to_string(&files.cert).unwrap();
        let key_pem = std::fs::read_to_string(&files.key).unwrap();
        let password = std::fs::read_to_string(&files.password).unwrap();
        let from_pem = Certificate::from_pem(&cert_pem, &key_pem).unwrap();
        let pfx = std::fs::read(&files.pfx).unwrap();
        let from_pfx = Certificate::from_pfx(&pfx, &Password::new(password.trim_end())).unwrap();
        assert_eq!(from_pem.thumbprint_sha256(), from_pfx.thumbprint_sha256());
        assert_eq!(from_pem.subject(), "CN=file-picker.contoso.example");
        assert_eq!(from_pem.not_after(), NOW + 90 * 86_400);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for secret in [&files.key, &files.pfx, &files.password] {
                assert_eq!(std::fs::metadata(secret).unwrap().permissions().mode() & 0o777, 0o600, "{secret:?}");
            }
        }

        // The report: thumbprints, the password file, the SQL line; never the key or the password.
        assert!(report.contains(&from_pem.sha256_hex()));
        assert!(report.contains(&from_pem.x5t_s256()));
        assert!(report.contains(&from_pem.info().sha1_hex()));
        assert!(report.contains(&files.password.display().to_string()));
        let sql = format!(
            "INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at) \
             VALUES ('<client-app-id>', '{}', 'file-picker.contoso.example', '2026-09-21T",
            from_pem.sha256_hex()
        );
        assert!(report.contains(&sql), "{report}");
        assert!(!report.contains(password.trim_end()));
        assert!(!report.contains("PRIVATE KEY"));
    }

    #[test]
    fn new_with_a_given_password_writes_no_password_file_and_never_overwrites() {
        let dir = TempDir::new();
        let password = Password::new("given-pfx-password");
        create("a b/c", 10, &dir.0, Some(password.clone()), NOW).unwrap();
        let files = NewFiles::new(&dir.0, "a b/c");
        assert!(files.pfx.ends_with("a_b_c.pfx"));
        assert!(!files.password.exists());
        Certificate::from_pfx(&std::fs::read(&files.pfx).unwrap(), &password).unwrap();

        let before = std::fs::read(&files.key).unwrap();
        let err = create("a b/c", 10, &dir.0, Some(password), NOW).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&files.key).unwrap(), before);
    }

    #[test]
    fn inspect_reads_pem_der_and_pfx() {
        let g = certs::generate_self_signed("inspect-me", 5).unwrap();
        let info = g.info();
        let expect = |out: &str| {
            for needle in [info.sha1_hex(), info.sha256_hex(), info.x5t(), info.x5t_s256(), "CN=inspect-me".into()] {
                assert!(out.contains(&needle), "{needle} missing in {out}");
            }
        };
        let now = info.not_before() + 60;
        expect(&inspect(g.cert_pem().as_bytes(), None, now).unwrap());
        expect(&inspect(info.der(), None, now).unwrap());
        let password = Password::new("pw");
        let pfx = g.pfx(&password).unwrap();
        let out = inspect(&pfx, Some(&password), now).unwrap();
        expect(&out);
        assert!(out.contains("matches the certificate"));
        let err = inspect(&pfx, None, now).unwrap_err();
        assert!(err.to_string().contains("--password-env"), "{err}");
        assert!(inspect(g.key_pem().expose().as_bytes(), None, now).is_err());
        assert!(inspect(b"not a certificate", None, now).is_err());
    }

    #[test]
    fn describe_says_expired_and_days_left() {
        let g = certs::generate_self_signed_with_validity("d", NOW - 10 * 86_400, NOW + 3 * 86_400 + 5).unwrap();
        assert!(describe(g.info(), NOW).contains("valid, 3 days left"));
        assert!(describe(g.info(), NOW + 4 * 86_400).contains("EXPIRED"));
        assert!(describe(g.info(), NOW - 11 * 86_400).contains("not valid yet"));
    }

    #[derive(Debug, clap::Parser)]
    struct Args {
        #[command(subcommand)]
        cmd: CertCommand,
    }

    #[test]
    fn the_command_line_parses_with_its_defaults() {
        use clap::{CommandFactory, Parser};
        Args::command().debug_assert();
        let args = Args::try_parse_from(["cert", "new", "--cn", "x.example"]).unwrap();
        let CertCommand::New { cn, days, out, password_env } = args.cmd else { panic!("{args:?}") };
        assert_eq!((cn.as_str(), days, out, password_env), ("x.example", 365, PathBuf::from("."), None));
        let args = Args::try_parse_from(["cert", "inspect", "f.pfx", "--password-env", "PW"]).unwrap();
        let CertCommand::Inspect { file, password_env } = args.cmd else { panic!("{args:?}") };
        assert_eq!((file, password_env.as_deref()), (PathBuf::from("f.pfx"), Some("PW")));
        assert!(Args::try_parse_from(["cert", "new"]).is_err(), "--cn is required");
    }
}
