//! The response body type: whole `Bytes` from a snapshot (zero-copy), or an object streamed
//! from storage (a file, or a bucket's response) in bounded chunks.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use tokio_util::io::ReaderStream;

use crate::index::{Chunks, Cursor};

/// Bytes a response body sends before it lets other tasks run.
const YIELD_EVERY: usize = 64 * 1024;

pub enum Body {
    Empty,
    /// Taken on the first poll; cloning `Bytes` into it is a reference-count bump.
    Full(Option<Bytes>),
    /// A snapshot's index, sent chunk by chunk from `cursor`.
    Chunks {
        chunks: Chunks,
        cursor: Cursor,
        remaining: u64,
        /// Bytes sent since this body last let other tasks run.
        since_yield: usize,
    },
    File {
        stream: BoxStream<'static, std::io::Result<Bytes>>,
        remaining: u64,
    },
}

impl Body {
    pub fn full(bytes: impl Into<Bytes>) -> Body {
        Body::Full(Some(bytes.into()))
    }

    pub fn chunks(chunks: Chunks, len: u64) -> Body {
        Body::Chunks { chunks, cursor: Cursor::default(), remaining: len, since_yield: 0 }
    }

    pub fn file(file: std::fs::File, size: u64) -> Body {
        let file = tokio::fs::File::from_std(file);
        Body::stream(ReaderStream::with_capacity(file, 64 * 1024).boxed(), size)
    }

    /// An object streamed from a bucket as the store sends it.
    pub fn stream(stream: BoxStream<'static, std::io::Result<Bytes>>, size: u64) -> Body {
        Body::File { stream, remaining: size }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(bytes) => Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b)))),
            Body::Chunks { chunks, cursor, remaining, since_yield } => {
                // A big index to many clients at once: after each slice, let the other
                // connections write too (as nginx's sendfile_max_chunk does), or the first
                // ones served hog the socket buffers and the last ones wait seconds.
                if *since_yield >= YIELD_EVERY {
                    *since_yield = 0;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                while let Some(chunk) = chunks.next(cursor) {
                    if !chunk.is_empty() {
                        *remaining -= chunk.len() as u64;
                        *since_yield += chunk.len();
                        return Poll::Ready(Some(Ok(Frame::data(chunk.clone()))));
                    }
                }
                Poll::Ready(None)
            }
            Body::File { stream, remaining } => match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    *remaining = remaining.saturating_sub(chunk.len() as u64);
                    Poll::Ready(Some(Ok(Frame::data(chunk))))
                }
                other => other.map(|chunk| chunk.map(|r| r.map(Frame::data))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(bytes) => bytes.as_ref().is_none_or(|b| b.is_empty()),
            Body::Chunks { remaining, .. } | Body::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Chunks { remaining, .. } | Body::File { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}
