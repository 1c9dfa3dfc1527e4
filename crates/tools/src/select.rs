//! Waiting for the first of two things.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

/// Which of two futures finished first.
#[derive(Debug)]
pub enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Poll both; return the first result (the left one wins ties). The other
/// future is dropped.
pub async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    })
    .await
}

/// Poll all; return the index and result of the first to finish (lower
/// indices win ties). `None` when there is nothing to wait for.
pub async fn select_all<F: Future>(futures: Vec<F>) -> Option<(usize, F::Output)> {
    if futures.is_empty() {
        return None;
    }
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let r = poll_fn(|cx| {
        for (i, f) in futures.iter_mut().enumerate() {
            if let Poll::Ready(v) = f.as_mut().poll(cx) {
                return Poll::Ready((i, v));
            }
        }
        Poll::Pending
    })
    .await;
    Some(r)
}
