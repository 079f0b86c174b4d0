//! The one bounded wait the stand-ins' `wait_*` helpers share: look every 10 ms until a probe
//! finds what it waits for, and fail the test (the caller's way, showing what it saw) when the
//! time runs out first.

use std::time::Duration;

/// What `probe` gives once it gives something, looking every 10 ms; `timed_out` (which panics,
/// naming what was waited for) when `timeout` passes first.
pub(crate) async fn until<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
    timed_out: impl FnOnce() -> std::convert::Infallible,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        if tokio::time::Instant::now() >= deadline {
            match timed_out() {}
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
