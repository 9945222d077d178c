//! A PostgreSQL server of the test's own — initdb into a temporary directory, on a free loopback
//! port — that the test may stop and start. Outage tests never touch the machine's shared server.
//!
//! initdb refuses to run as root: as root, every PostgreSQL command runs as the `postgres` user
//! (`runuser`), and the directory is handed to it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

pub struct PrivatePg {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePg {
    /// initdb (trust authentication, no fsync: a test server) and start.
    pub fn start() -> PrivatePg {
        let bindir = find_bindir();
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown").arg("-R").arg("postgres:postgres").arg(dir.path()), "chown");
        }
        let port = free_port();
        let pg = PrivatePg { dir, bindir, port, as_postgres };
        let data = pg.data();
        let mut initdb = pg.command("initdb");
        initdb.arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        run(&mut initdb, "initdb");
        pg.start_again();
        pg
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Kills the server the hard way, as a crash or a pulled plug would: every connection drops.
    pub fn stop(&self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]);
        run(&mut stop, "pg_ctl stop");
    }

    /// Starts the (stopped) server again and waits until it accepts connections.
    pub fn start_again(&self) {
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        run(&mut start, "pg_ctl start");
    }

    /// Freezes the server (SIGSTOP to the postmaster and its children, by process id): a hung
    /// database that accepts connections and never answers. Thawed when the guard is dropped —
    /// also when the test fails while frozen, so that cleanup never waits on a frozen server.
    pub fn freeze(&self) -> Frozen<'_> {
        self.signal("-STOP");
        Frozen(self)
    }

    fn postmaster(&self) -> Option<u32> {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        pid_file.lines().next()?.trim().parse().ok()
    }

    fn signal(&self, signal: &str) {
        let Some(postmaster) = self.postmaster() else { return };
        let mut pids = vec![postmaster];
        pids.extend(children(postmaster));
        let _ = Command::new("kill").arg(signal).args(pids.iter().map(u32::to_string)).output();
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bindir.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

/// A frozen server; thaws it when dropped.
pub struct Frozen<'a>(&'a PrivatePg);

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.signal("-CONT");
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        self.signal("-CONT"); // a frozen server would not stop
        let mut stop = self.command("pg_ctl");
        stop.arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "-t", "10", "stop"]);
        let _ = stop.output();
        // Never leave a server behind its deleted directory.
        if let Some(pid) = self.postmaster() {
            let _ = Command::new("kill").arg("-QUIT").arg(pid.to_string()).output();
        }
    }
}

fn run(command: &mut Command, what: &str) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
fn find_bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.pop().unwrap_or_else(|| panic!("no PostgreSQL server binaries (initdb) found: install postgresql"))
}

/// The processes whose parent is `parent` (from /proc).
fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid …`; comm may hold spaces, so read after the last ')'.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().is_some_and(|stat| {
                stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
