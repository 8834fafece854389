//! Small index bodies sent by the kernel from shared memory, as nginx sends files.
//!
//! A 20 KB gzipped index answered 100,000 times a second spends a fifth of its core
//! copying the body into socket buffers (`_copy_from_iter`); nginx's `sendfile` does not
//! copy. [`sealed`] puts a body in a sealed memfd mapped read-only: to hyper it is an
//! ordinary `Bytes`. [`SendfileStream`], the connection's plain-TCP I/O, recognises a
//! write of such bytes by its address and hands it to `sendfile(2)`, sending the
//! response head just before with `MSG_MORE` so both leave in the same packets.
//!
//! The kernel may keep referring to the memfd's pages after `sendfile` returns (until the
//! data is acknowledged); the memfd is sealed, so they never change, and they stay alive
//! for as long as the kernel holds them.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use arc_swap::ArcSwap;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Live sealed bodies at most (two per small repository). Past it, bodies stay ordinary
/// memory: a server with thousands of repositories must not run out of descriptors.
const MAX_LIVE: usize = 1024;

/// A sealed memfd and its read-only mapping.
struct Mapping {
    start: *const u8,
    len: usize,
    fd: OwnedFd,
}

// The mapping is read-only and owned: sharing and sending its address is safe.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `start..start + len` is a live read-only mapping until `drop`.
        unsafe { std::slice::from_raw_parts(self.start, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        REGISTRY.remove(self.start as usize);
        // SAFETY: the mapping was made by `map` with this address and length, and no
        // `Bytes` refers to it any more (this is its owner's drop).
        unsafe { libc::munmap(self.start as *mut libc::c_void, self.len) };
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `bytes` in a sealed memfd, or `None` when that cannot be had (then the caller keeps
/// ordinary memory). Empty bodies are never sealed.
pub fn sealed(bytes: &[u8]) -> Option<Bytes> {
    if bytes.is_empty() {
        return None;
    }
    if LIVE.fetch_add(1, Ordering::Relaxed) >= MAX_LIVE {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    let Some(mapping) = map(bytes) else {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        return None;
    };
    REGISTRY.insert(Region { start: mapping.start as usize, len: mapping.len, fd: mapping.fd.as_raw_fd() });
    Some(Bytes::from_owner(mapping))
}

/// Mappings alive (each counted from just before it is made until it is dropped).
static LIVE: AtomicUsize = AtomicUsize::new(0);

fn map(bytes: &[u8]) -> Option<Mapping> {
    // SAFETY: plain system calls on a descriptor this function owns; every result is
    // checked before use.
    unsafe {
        let raw = libc::memfd_create(c"charthall-index".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING);
        if raw < 0 {
            return None;
        }
        let fd = OwnedFd::from_raw_fd(raw);
        let mut written = 0;
        while written < bytes.len() {
            let n = libc::write(raw, bytes[written..].as_ptr().cast(), bytes.len() - written);
            if n <= 0 {
                return None;
            }
            written += n as usize;
        }
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
        if libc::fcntl(raw, libc::F_ADD_SEALS, seals) != 0 {
            return None;
        }
        let start = libc::mmap(std::ptr::null_mut(), bytes.len(), libc::PROT_READ, libc::MAP_SHARED, raw, 0);
        if start == libc::MAP_FAILED {
            return None;
        }
        Some(Mapping { start: start as *const u8, len: bytes.len(), fd })
    }
}

/// Where a sealed body lives and the descriptor to send it from.
#[derive(Clone, Copy)]
struct Region {
    start: usize,
    len: usize,
    fd: RawFd,
}

/// The live regions, sorted by address: read without a lock on every vectored write,
/// replaced whole (under `changing`) when a body is sealed or dropped.
struct Registry {
    regions: ArcSwap<Vec<Region>>,
    changing: Mutex<()>,
}

static REGISTRY: std::sync::LazyLock<Registry> =
    std::sync::LazyLock::new(|| Registry { regions: ArcSwap::from_pointee(Vec::new()), changing: Mutex::new(()) });

impl Registry {
    fn insert(&self, region: Region) {
        let _changing = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        let mut regions = Vec::clone(&self.regions.load());
        let at = regions.partition_point(|r| r.start < region.start);
        regions.insert(at, region);
        self.regions.store(Arc::new(regions));
    }

    fn remove(&self, start: usize) {
        let _changing = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        let mut regions = Vec::clone(&self.regions.load());
        regions.retain(|r| r.start != start);
        self.regions.store(Arc::new(regions));
    }
}

/// The region holding all of `slice`, if any.
fn region_of(regions: &[Region], slice: &[u8]) -> Option<Region> {
    let at = slice.as_ptr() as usize;
    let index = regions.partition_point(|r| r.start <= at).checked_sub(1)?;
    let region = regions[index];
    (at + slice.len() <= region.start + region.len).then_some(region)
}

/// A plain TCP connection whose writes of sealed bodies go through `sendfile(2)`.
pub struct SendfileStream {
    inner: TcpStream,
}

impl SendfileStream {
    pub fn new(inner: TcpStream) -> SendfileStream {
        SendfileStream { inner }
    }
}

impl AsyncRead for SendfileStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.as_mut().poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let regions = REGISTRY.regions.load();
        let found = bufs
            .iter()
            .enumerate()
            .filter(|(_, buf)| !buf.is_empty())
            .find_map(|(i, buf)| Some((i, region_of(&regions, buf)?)));
        let Some((i, region)) = found else {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        };
        let (head, body) = (&bufs[..i], &bufs[i]);
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            let socket = self.inner.as_raw_fd();
            match self.inner.try_io(Interest::WRITABLE, || send_head_and_body(socket, head, body, region)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Sends `head` (with `MSG_MORE`), then `body` from its region's memfd. Returns the bytes
/// written, counting from the first of `head`; `WouldBlock` only when none were.
fn send_head_and_body(socket: RawFd, head: &[IoSlice<'_>], body: &IoSlice<'_>, region: Region) -> io::Result<usize> {
    let head_len: usize = head.iter().map(|s| s.len()).sum();
    let mut written = 0;
    if head_len > 0 {
        // SAFETY: `msg` points at `head`'s slices, which outlive the call.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = head.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = head.len() as _;
            libc::sendmsg(socket, &msg, libc::MSG_MORE | libc::MSG_NOSIGNAL)
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        written = sent as usize;
        if written < head_len {
            return Ok(written);
        }
    }
    let mut offset = (body.as_ptr() as usize - region.start) as libc::off_t;
    // SAFETY: `region.fd` is open while its mapping lives, and the mapping lives while
    // `body` (a slice of it) does.
    let sent = unsafe { libc::sendfile(socket, region.fd, &mut offset, body.len()) };
    if sent < 0 {
        let error = io::Error::last_os_error();
        return if written > 0 && error.kind() == io::ErrorKind::WouldBlock { Ok(written) } else { Err(error) };
    }
    Ok(written + sent as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_read_back_and_are_found_by_address() {
        let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let sealed = sealed(&body).expect("memfd available");
        assert_eq!(&sealed[..], &body[..]);
        let regions = REGISTRY.regions.load();
        assert!(region_of(&regions, &sealed[100..200]).is_some());
        assert!(region_of(&regions, &body[..]).is_none(), "ordinary memory is not a region");
        let start = sealed.as_ptr() as usize;
        drop(sealed);
        assert!(REGISTRY.regions.load().iter().all(|r| r.start != start), "dropped bodies leave the registry");
    }
}
