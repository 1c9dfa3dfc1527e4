//! Sleeping and timeouts on the host's clock.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tcplab_stack::Instant;

use crate::Host;

/// A future that completes at a deadline.
#[derive(Debug)]
pub struct Sleep {
    pub(crate) host: Host,
    pub(crate) deadline: Instant,
    pub(crate) registered: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.host.now() >= self.deadline {
            if let Some(id) = self.registered.take() {
                self.host.cancel_timer(id);
            }
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let id = self
            .host
            .register_timer(self.registered, deadline, cx.waker());
        self.registered = Some(id);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(id) = self.registered.take() {
            self.host.cancel_timer(id);
        }
    }
}

/// The deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timed out")
    }
}

/// Run `future` for at most `limit` of the host's time.
pub async fn timeout<F: Future>(
    host: &Host,
    limit: Duration,
    future: F,
) -> Result<F::Output, Elapsed> {
    let mut future = std::pin::pin!(future);
    let mut sleep = std::pin::pin!(host.sleep(limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Elapsed));
        }
        Poll::Pending
    })
    .await
}
