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

use hyper::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN};

use super::record::RequestRecord;
use super::response::Reply;
use super::X_REQUEST_ID;

/// A request's reply, ready now or made by a future, stamped with its `X-Request-Id`
/// when it is ready, and handed out with the request's record.
pub struct ReplyFuture {
    record: Option<RequestRecord>,
    /// `Access-Control-Allow-Origin`, for /api routes when `CORS_ALLOW_ORIGIN` is set.
    allow_origin: Option<HeaderValue>,
    reply: Pending,
}

// The ready reply stays unboxed: it is every index GET's, and a box would be an allocation
// per request.
#[allow(clippy::large_enum_variant)]
enum Pending {
    Ready(Option<Reply>),
    Waiting(Pin<Box<dyn Future<Output = Reply> + Send>>),
}

impl ReplyFuture {
    pub fn now(reply: Reply) -> ReplyFuture {
        ReplyFuture { record: None, allow_origin: None, reply: Pending::Ready(Some(reply)) }
    }

    pub fn later(work: impl Future<Output = Reply> + Send + 'static) -> ReplyFuture {
        ReplyFuture { record: None, allow_origin: None, reply: Pending::Waiting(Box::pin(work)) }
    }

    pub fn with_record(mut self, record: RequestRecord) -> ReplyFuture {
        self.record = Some(record);
        self
    }

    pub fn with_allow_origin(mut self, allow_origin: Option<HeaderValue>) -> ReplyFuture {
        self.allow_origin = allow_origin;
        self
    }
}

impl Future for ReplyFuture {
    type Output = Result<(Reply, RequestRecord), Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut reply = match &mut this.reply {
            Pending::Ready(reply) => reply.take().expect("a reply is not polled again once ready"),
            Pending::Waiting(work) => ready!(work.as_mut().poll(cx)),
        };
        let mut record = this.record.take().expect("App::handle gives every reply its record");
        reply.headers_mut().insert(X_REQUEST_ID.clone(), record.request_id.clone());
        if let Some(origin) = this.allow_origin.take() {
            reply.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        record.status = reply.status();
        Poll::Ready(Ok((reply, record)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_request_future_stays_small() {
        let size = std::mem::size_of::<ReplyFuture>();
        // 312 bytes when written, most of it the `Response`; the `async fn` was 3,848.
        assert!(size <= 512, "ReplyFuture is {size} bytes: box whatever made it grow");
    }
}
