//! The audit spool: where audit rows wait on local disk while the database cannot take them.
//!
//! Append-only JSON-lines files ("segments", one row per line, named by a growing sequence
//! number) in one directory, fsynced per batch, bounded in total size. Replay hands out the oldest
//! segment whole; the caller removes it only after the database committed its rows, so a crash at
//! any point loses nothing (the database insert is idempotent by row id, so a segment replayed
//! twice is stored once). A line that does not parse — typically the last one of a segment cut
//! off by a crash mid-write — is skipped with a warning and counted; it never stops the replay.
//!
//! Written by hand rather than with an embedded queue crate: the format is a few dozen lines of
//! std I/O, an operator can read it with `jq`, and the dependency tree stays lean.
//! Synchronous on purpose (std::fs): the writer task calls it through `spawn_blocking`.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use registry::AuditRecord;

/// A new segment is started once the current one is this big, so a replay reads a bounded
/// amount at a time (a segment may exceed it by one batch).
const SEGMENT_BYTES: u64 = 4 * 1024 * 1024;
const EXTENSION: &str = "jsonl";
/// Held with an exclusive lock while a process uses the directory: two STS processes sharing a
/// spool would replay each other's rows.
const LOCK_FILE: &str = "spool.lock";
/// How much of an unreadable line the warning shows (audit rows hold ids, never secrets).
const SHOWN_BYTES: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("audit spool {path}: cannot {action}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("audit spool {0} is in use by another process; give each STS process its own audit.spool_dir")]
    Locked(PathBuf),
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io { action, path: path.to_path_buf(), source }
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    path: PathBuf,
    bytes: u64,
}

/// The rows of one segment, read for replay.
#[derive(Debug)]
pub struct Replay {
    pub seq: u64,
    pub rows: Vec<AuditRecord>,
    /// Lines skipped because they did not parse (warned about one by one).
    pub corrupt_lines: u64,
}

/// What happened to a batch offered to [`Spool::append`].
#[derive(Debug, Default)]
pub struct Appended {
    /// Rows now durably on disk.
    pub written: Vec<AuditRecord>,
    /// Rows that did not fit under the size bound (the caller logs them).
    pub overflow: Vec<AuditRecord>,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Oldest first; the last one is the one appended to, if `current` is set.
    segments: VecDeque<Segment>,
    /// The open segment being appended to (always `segments.back()`).
    current: Option<File>,
    next_seq: u64,
    /// Whether the size bound was hit and not yet relieved (to log the transition once).
    full: bool,
    _lock: File,
}

impl Spool {
    /// Opens (creating) the spool directory, takes its lock and finds what an earlier process
    /// left for replay.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir).map_err(io_error("create the directory", dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error("open the lock file", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(SpoolError::Locked(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error("lock", &lock_path)(e)),
        }
        let mut segments = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_error("list", dir))? {
            let entry = entry.map_err(io_error("list", dir))?;
            let path = entry.path();
            let Some(seq) = segment_seq(&path) else { continue };
            let bytes = entry.metadata().map_err(io_error("stat", &path))?.len();
            segments.push(Segment { seq, path, bytes });
        }
        segments.sort_by_key(|s| s.seq);
        let next_seq = segments.last().map_or(1, |s| s.seq + 1);
        let spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segments: segments.into(),
            current: None,
            next_seq,
            full: false,
            _lock: lock,
        };
        if !spool.is_empty() {
            tracing::info!(dir = %dir.display(), segments = spool.segments.len(), bytes = spool.bytes(),
                "audit spool holds records of an earlier run; replaying them into the database");
        }
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes on disk in all segments.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether the size bound turned rows away since the spool last had room.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Writes `rows` (one JSON line each) and fsyncs before returning: what is in
    /// [`Appended::written`] survives a crash. Rows past `max_bytes` come back in
    /// [`Appended::overflow`]. On an I/O error nothing of the batch stays on disk (the partial
    /// write is cut off again) and every row comes back with the error.
    pub fn append(&mut self, rows: Vec<AuditRecord>) -> Result<Appended, (SpoolError, Vec<AuditRecord>)> {
        let mut room = self.max_bytes.saturating_sub(self.bytes());
        let mut buf = Vec::new();
        let mut result = Appended::default();
        for row in rows {
            let start = buf.len();
            if serde_json::to_writer(&mut buf, &row).is_err() {
                buf.truncate(start);
                result.overflow.push(row);
                continue;
            }
            buf.push(b'\n');
            let len = (buf.len() - start) as u64;
            if len > room {
                buf.truncate(start);
                result.overflow.push(row);
            } else {
                room -= len;
                result.written.push(row);
            }
        }
        if !result.overflow.is_empty() && !self.full {
            self.full = true;
            tracing::error!(dir = %self.dir.display(), max_bytes = self.max_bytes,
                "audit spool full: audit records that the database cannot take now go to the log only \
                 (tessera_audit_not_persisted_total); restore the database or raise audit.spool_max_bytes");
        }
        if buf.is_empty() {
            return Ok(result);
        }
        if let Err(e) = self.write_durably(&buf) {
            let mut all = result.written;
            all.append(&mut result.overflow);
            return Err((e, all));
        }
        Ok(result)
    }

    fn write_durably(&mut self, buf: &[u8]) -> Result<(), SpoolError> {
        let rotate = self.segments.back().is_none_or(|s| s.bytes >= SEGMENT_BYTES);
        if self.current.is_none() || rotate {
            self.start_segment()?;
        }
        let (Some(file), Some(segment)) = (self.current.as_mut(), self.segments.back_mut()) else {
            return Err(io_error("write", &self.dir)(io::Error::other("no open segment")));
        };
        let written = file.write_all(buf).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Cut the partial batch off, so the next append does not continue a broken line.
            let _ = file.set_len(segment.bytes);
            return Err(io_error("write", &segment.path)(e));
        }
        segment.bytes += buf.len() as u64;
        Ok(())
    }

    fn start_segment(&mut self) -> Result<(), SpoolError> {
        let seq = self.next_seq;
        let path = self.dir.join(format!("{seq:020}.{EXTENSION}"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io_error("create a segment", &path))?;
        // The new directory entry must be durable too, or a crash may lose the whole file.
        sync_dir(&self.dir)?;
        self.next_seq += 1;
        self.segments.push_back(Segment { seq, path, bytes: 0 });
        self.current = Some(file);
        Ok(())
    }

    /// The oldest segment's rows, to replay into the database; `None` when the spool is empty.
    /// If it is the segment being appended to, later appends go to a new one, so that what
    /// [`remove`](Self::remove) deletes is exactly what was read.
    pub fn oldest(&mut self) -> Result<Option<Replay>, SpoolError> {
        let Some(segment) = self.segments.front() else { return Ok(None) };
        if self.segments.len() == 1 {
            self.current = None;
        }
        let mut bytes = Vec::new();
        File::open(&segment.path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io_error("read", &segment.path))?;
        let mut replay = Replay { seq: segment.seq, rows: Vec::new(), corrupt_lines: 0 };
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<AuditRecord>(line) {
                Ok(row) => replay.rows.push(row),
                Err(e) => {
                    replay.corrupt_lines += 1;
                    let shown = String::from_utf8_lossy(&line[..line.len().min(SHOWN_BYTES)]);
                    tracing::warn!(segment = %segment.path.display(), line = n + 1, error = %e, content = %shown,
                        "audit spool line is unreadable (cut off by a crash mid-write?); skipping it");
                }
            }
        }
        Ok(Some(replay))
    }

    /// Deletes a replayed segment. Call only after the database committed its rows.
    pub fn remove(&mut self, seq: u64) -> Result<(), SpoolError> {
        let Some(i) = self.segments.iter().position(|s| s.seq == seq) else { return Ok(()) };
        if i + 1 == self.segments.len() && self.current.is_some() {
            self.current = None;
        }
        let path = self.segments[i].path.clone();
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove a replayed segment", &path)(e)),
        }
        self.segments.remove(i);
        sync_dir(&self.dir)?;
        if self.full && self.bytes() < self.max_bytes {
            self.full = false;
            tracing::info!(dir = %self.dir.display(), "audit spool has room again");
        }
        Ok(())
    }
}

fn segment_seq(path: &Path) -> Option<u64> {
    if path.extension()? != EXTENSION {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error("sync the directory", dir))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(n: i64, hits: i64) -> AuditRecord {
        AuditRecord {
            id: uuid::Uuid::now_v7(),
            at_ms: n,
            correlation_id: format!("c{n}"),
            tenant_id: Some("t".into()),
            user_oid: None,
            broker_app_id: None,
            client_app_id: None,
            workload: Some("w".into()),
            backend: None,
            scopes: Some("s".into()),
            outcome: "issued".into(),
            error: None,
            cache_hit: hits > 1,
            latency_us: 10,
            hits,
            last_at_ms: None,
            site: None,
        }
    }

    fn drain(spool: &mut Spool) -> (Vec<AuditRecord>, u64) {
        let (mut rows, mut corrupt) = (Vec::new(), 0);
        while let Some(r) = spool.oldest().unwrap() {
            rows.extend(r.rows);
            corrupt += r.corrupt_lines;
            spool.remove(r.seq).unwrap();
        }
        (rows, corrupt)
    }

    #[test]
    fn appended_rows_are_replayed_in_order_by_a_later_process_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<_> = (0..5).map(|n| row(n, n + 1)).collect();
        {
            let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
            assert!(spool.is_empty());
            let a = spool.append(rows[..2].to_vec()).unwrap();
            assert_eq!((a.written.len(), a.overflow.len()), (2, 0));
            spool.append(rows[2..].to_vec()).unwrap();
            assert!(spool.bytes() > 0);
        }
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(!spool.is_empty());
        let (replayed, corrupt) = drain(&mut spool);
        assert_eq!(replayed, rows);
        assert_eq!(corrupt, 0);
        assert!(spool.is_empty());
        assert_eq!(spool.bytes(), 0);
        drop(spool);
        assert!(Spool::open(dir.path(), 1 << 20).unwrap().is_empty(), "removed segments stay removed");
    }

    #[test]
    fn appends_after_reading_the_current_segment_go_to_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool.append(vec![row(1, 1)]).unwrap();
        let first = spool.oldest().unwrap().unwrap();
        spool.append(vec![row(2, 1)]).unwrap();
        spool.remove(first.seq).unwrap();
        let (rest, _) = drain(&mut spool);
        assert_eq!(rest.iter().map(|r| r.at_ms).collect::<Vec<_>>(), [2], "the later row survives the removal");
    }

    #[test]
    fn a_truncated_last_line_is_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![row(1, 1), row(2, 3)];
        {
            let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
            spool.append(rows.clone()).unwrap();
        }
        // A crash mid-write: half of a third line, no newline.
        let segment = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| segment_seq(p).is_some())
            .unwrap();
        let line = serde_json::to_string(&row(3, 1)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&segment).unwrap();
        f.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
        drop(f);

        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let (replayed, corrupt) = drain(&mut spool);
        assert_eq!(replayed, rows);
        assert_eq!(corrupt, 1);
    }

    #[test]
    fn rows_past_the_size_bound_come_back_and_room_returns_after_replay() {
        let dir = tempfile::tempdir().unwrap();
        let line = serde_json::to_vec(&row(0, 1)).unwrap().len() as u64 + 1;
        let mut spool = Spool::open(dir.path(), 2 * line + line / 2).unwrap();
        let a = spool.append((0..3).map(|n| row(n, 1)).collect()).unwrap();
        assert_eq!((a.written.len(), a.overflow.len()), (2, 1));
        assert_eq!(a.overflow[0].at_ms, 2);
        assert!(spool.is_full());
        assert!(spool.bytes() <= 2 * line + line / 2);
        let a = spool.append(vec![row(9, 1)]).unwrap();
        assert_eq!((a.written.len(), a.overflow.len()), (0, 1), "still full");

        let (replayed, _) = drain(&mut spool);
        assert_eq!(replayed.len(), 2);
        assert!(!spool.is_full());
        let a = spool.append(vec![row(10, 1)]).unwrap();
        assert_eq!((a.written.len(), a.overflow.len()), (1, 0));
    }

    #[test]
    fn a_second_process_cannot_share_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Spool::open(dir.path(), 1 << 20).unwrap();
        let err = Spool::open(dir.path(), 1 << 20).unwrap_err();
        assert!(matches!(err, SpoolError::Locked(_)), "{err}");
    }
}
