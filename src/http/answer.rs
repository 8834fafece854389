//! The future hyper keeps for each request.
//!
//! hyper moves a request's future into place before polling it, so its size is paid on
//! every request. An `async fn` covering all routes was 3.8 KB, most of it the state of
//! uploads; index GETs never wait. So routes that only read snapshots answer at once,
//! and only the handlers that wait on storage or a request body get a boxed future.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::header::HeaderValue;

use super::response::Reply;
use super::X_REQUEST_ID;

/// What a route handler produced: the reply, or the work that will make it.
pub enum Handled {
    Now(Option<Reply>),
    Later(Pin<Box<dyn Future<Output = Reply> + Send>>),
}

impl Handled {
    pub fn now(reply: Reply) -> Handled {
        Handled::Now(Some(reply))
    }

    pub fn later(work: impl Future<Output = Reply> + Send + 'static) -> Handled {
        Handled::Later(Box::pin(work))
    }
}

/// A request's reply, stamped with its `X-Request-Id` when it is ready.
pub struct Answer {
    request_id: HeaderValue,
    handled: Handled,
}

impl Answer {
    pub fn new(request_id: HeaderValue, handled: Handled) -> Answer {
        Answer { request_id, handled }
    }
}

impl Future for Answer {
    type Output = Result<Reply, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut reply = match &mut this.handled {
            Handled::Now(reply) => reply.take().expect("an answer is not polled again once ready"),
            Handled::Later(work) => ready!(work.as_mut().poll(cx)),
        };
        let request_id = std::mem::replace(&mut this.request_id, HeaderValue::from_static(""));
        reply.headers_mut().insert(X_REQUEST_ID.clone(), request_id);
        Poll::Ready(Ok(reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_request_future_stays_small() {
        let size = std::mem::size_of::<Answer>();
        // 312 bytes when written, most of it the `Response`; the `async fn` was 3,848.
        assert!(size <= 512, "Answer is {size} bytes: box whatever made it grow");
    }
}
