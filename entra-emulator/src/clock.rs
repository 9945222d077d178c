//! Time, injectable so tests can check expiry without sleeping.
//!
//! The emulator reads time through [`Clock`]; on top of it sits an offset that
//! [`crate::Admin::advance_clock`] moves forward, so even a test that talks to the emulator
//! over HTTP can make a token expire instantly.

use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current UTC time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock by `by` (may be negative).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The clock the emulator actually reads: a base clock plus an adjustable offset.
#[derive(Debug)]
pub(crate) struct EmulatorClock {
    base: std::sync::Arc<dyn Clock>,
    offset_secs: AtomicI64,
}

impl EmulatorClock {
    pub(crate) fn new(base: std::sync::Arc<dyn Clock>) -> Self {
        Self { base, offset_secs: AtomicI64::new(0) }
    }

    /// Now, truncated to whole seconds (JWT times are whole seconds).
    pub(crate) fn now(&self) -> OffsetDateTime {
        let now = self.base.now() + Duration::seconds(self.offset_secs.load(Ordering::SeqCst));
        now.replace_nanosecond(0).unwrap_or(now)
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.offset_secs.fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }
}
