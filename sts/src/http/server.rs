//! The connection loop: what `axum::serve` leaves out.
//!
//! `axum::serve` sets no timeout and no limit, so one attacker with slow or silent connections can
//! hold the STS (and its file descriptors) forever. This loop owns the listener and gives every
//! connection hyper's read-buffer cap, and adds:
//!
//! - **a header deadline**: a connection with no request in progress (silent since it was
//!   accepted, idle after a response, or still sending a request's head) is closed after
//!   `header_read_timeout`. hyper has this timer too, but arms it anew for every request: a boxed
//!   sleep registered in tokio's timer wheel and removed again, under the wheel's one lock that
//!   every worker shares. [`header_deadline`] sleeps once per timeout and looks at the connection
//!   when it wakes;
//! - **a cap on open connections**: at the cap a new connection displaces the oldest connection
//!   that has no request in progress (silent, idle or still sending headers), so an attacker who
//!   holds connections cannot lock clients out; when every connection is busy with a request,
//!   new ones wait in the kernel's backlog;
//! - **a drain deadline**: at shutdown, connections without a request in progress close at once,
//!   in-flight requests get `shutdown_grace` to finish, and whatever is left is then dropped.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::metrics::Metrics;

/// The limits one server applies to its connections (see `ServerConfig` for each one's meaning).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

/// File descriptors kept free of client connections: Entra, the database, log and spool files.
const RESERVED_FDS: u64 = 256;

impl Limits {
    pub fn from_config(c: &crate::config::ServerConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(c.header_read_timeout_secs.max(1)),
            max_header_bytes: c.max_header_bytes,
            max_connections: fit_to_descriptor_limit(c.max_connections.max(1)),
            shutdown_grace: Duration::from_secs(c.shutdown_grace_secs),
        }
    }

    /// hyper's read buffer, the backstop behind the header check at the edge: headers up to
    /// `max_header_bytes` are answered 431 in OAuth JSON by the router; hyper itself answers a
    /// bare 431 only past four times that, so no connection buffers more than this.
    fn read_buffer_cap(&self) -> usize {
        self.max_header_bytes.saturating_mul(4).max(8192)
    }
}

/// The connection cap only protects the service if it is reached before the process runs out of
/// file descriptors (then `accept` fails, nothing is evicted, and Entra and the database cannot
/// be reached either). So: raise the soft `RLIMIT_NOFILE` to the hard one, as Go's runtime does,
/// and lower the cap below it if it does not fit.
fn fit_to_descriptor_limit(configured: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::debug!(error = %e, "could not raise the file-descriptor limit");
        }
        limit = getrlimit(Resource::Nofile);
    }
    let Some(soft) = limit.current else { return configured };
    let room = usize::try_from(soft.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX).max(1);
    if configured > room {
        tracing::warn!(
            configured,
            used = room,
            nofile = soft,
            "server.max_connections does not fit the file-descriptor limit; using less"
        );
        return room;
    }
    configured
}

/// One open connection, as the loop sees it.
#[derive(Debug)]
struct Connection {
    /// Requests whose headers arrived and whose response is not yet complete.
    in_flight: AtomicUsize,
    /// When `in_flight` last went to 0 (or the connection was accepted): nanoseconds since `opened`.
    idle_since_ns: AtomicU64,
    opened: Instant,
    /// Told when the connection must make room for a new one.
    evict: Notify,
}

impl Connection {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            idle_since_ns: AtomicU64::new(0),
            opened: Instant::now(),
            evict: Notify::new(),
        }
    }

    /// A request is in progress on the connection.
    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Since when the connection has had no request in progress; `None` while it has one.
    fn idle_since(&self) -> Option<Instant> {
        if self.busy() {
            return None;
        }
        Some(self.opened + Duration::from_nanos(self.idle_since_ns.load(Ordering::Acquire)))
    }
}

/// Open connections in accept order, oldest first: the eviction order.
#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    open: BTreeMap<u64, Arc<Connection>>,
}

#[derive(Debug, Clone, Default)]
struct Connections(Arc<Mutex<Table>>);

impl Connections {
    fn add(&self) -> (u64, Arc<Connection>) {
        let mut table = self.lock();
        let id = table.next_id;
        table.next_id += 1;
        let connection = Arc::new(Connection::new());
        table.open.insert(id, Arc::clone(&connection));
        (id, connection)
    }

    fn remove(&self, id: u64) {
        self.lock().open.remove(&id);
    }

    /// Asks the oldest connection with no request in progress to close. Returns whether there was one.
    fn evict_oldest_idle(&self) -> bool {
        let table = self.lock();
        match table.open.values().find(|c| !c.busy()) {
            Some(c) => {
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes a connection from the table however its task ends (finished, evicted, aborted).
struct Registered {
    connections: Connections,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections.remove(self.id);
    }
}

/// Counts one request in progress on its connection for as long as it lives.
struct InFlight(Arc<Connection>);

impl InFlight {
    fn start(connection: &Arc<Connection>) -> Self {
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(connection))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let connection = &self.0;
        if connection.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            let ns = u64::try_from(connection.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
            connection.idle_since_ns.store(ns, Ordering::Release);
        }
    }
}

/// Returns once `connection` has had no request in progress for `timeout` (see the module doc).
/// The requests' bodies have their own deadline (`server.body_read_timeout_secs`).
async fn header_deadline(connection: &Connection, timeout: Duration) {
    let mut wake = connection.opened + timeout;
    loop {
        tokio::time::sleep_until(wake.into()).await;
        match connection.idle_since() {
            // Busy: nothing to close now; look again a timeout later, or when it went idle.
            None => wake = Instant::now() + timeout,
            Some(since) if since + timeout <= Instant::now() => return,
            Some(since) => wake = since + timeout,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains (see the module doc).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let connections = Connections::default();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            // Reap finished connection tasks as we go, so the set does not grow without bound.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // At the cap: make room by closing a connection that is doing nothing for anyone.
                let evicted = connections.evict_oldest_idle();
                metrics.connections_at_limit.inc();
                tracing::debug!(evicted, "connection limit reached");
                tokio::select! {
                    () = &mut shutdown => break,
                    permit = Arc::clone(&slots).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break, // never closed
                    },
                }
            }
        };
        tasks.spawn(serve_connection(stream, permit, router.clone(), limits, connections.clone(), stopping.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(limits.shutdown_grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            remaining = tasks.len(),
            grace_secs = limits.shutdown_grace.as_secs(),
            "shutdown grace elapsed: dropping the remaining connections"
        );
        tasks.shutdown().await;
    }
}

async fn serve_connection(
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    router: Router,
    limits: Limits,
    connections: Connections,
    mut stopping: watch::Receiver<bool>,
) {
    let (id, connection) = connections.add();
    let _registered = Registered { connections, id };
    let _ = stream.set_nodelay(true);
    let service = {
        let connection = Arc::clone(&connection);
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_flight = InFlight::start(&connection);
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(axum::body::Body::new)).await;
                drop(in_flight);
                response.map_err(|never: Infallible| match never {})
            }
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    // No hyper timer: `header_deadline` bounds the heads (see the module doc).
    http.max_buf_size(limits.read_buffer_cap());
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                // Header timeouts, oversized heads and resets: the client's problem, not ours.
                tracing::debug!(error = %e, "connection closed with an error");
            }
            return;
        }
        () = header_deadline(&connection, limits.header_read_timeout) => {
            tracing::debug!("closing a connection that sent no request within the header timeout");
            return;
        }
        () = connection.evict.notified() => {}
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    // Evicted or shutting down: a connection with a request in progress finishes it, then closes;
    // any other one (idle, silent, or still sending headers) closes now, by being dropped.
    if connection.busy() {
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}

/// `accept` fails when the process is out of file descriptors (or a client reset before we took
/// it). Waiting a moment lets connections close instead of spinning on the error.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed; pausing 50 ms");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_fits_the_descriptor_limit() {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let cap = fit_to_descriptor_limit(usize::MAX);
        match soft {
            Some(soft) => assert!(u64::try_from(cap).is_ok_and(|c| c + RESERVED_FDS <= soft.max(RESERVED_FDS + 1))),
            None => assert_eq!(cap, usize::MAX, "no limit: the configured cap stands"),
        }
        assert_eq!(fit_to_descriptor_limit(10), 10, "a cap that fits is kept");
    }
}
