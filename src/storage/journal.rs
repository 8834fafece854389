//! The journal: how replicas sharing a bucket learn, within a second, what the others
//! changed — without listing the whole bucket.
//!
//! Each change is a tiny record object under `<prefix>/.charthall/journal/`, keyed
//! `<unix ms>-<replica>-<seq>` so a listing returns records in about the order they were
//! written. After writing a record, its writer overwrites one small object,
//! `.charthall/journal.head`, with the record's key, which gives the head a new ETag.
//!
//! A replica polls by asking for the head's ETag (a HEAD request, no body). Only when it
//! changed — or every [`RELIST`], in case a head write was lost — does it list the
//! records from [`WINDOW`] before the newest it has seen and fetch those it has not.
//! So an idle replica costs one HEAD per poll, and a change reaches the others one poll
//! plus one listing later.
//!
//! Keys carry their writer's clock. A record written late (a slow PUT) or by a replica
//! whose clock lags still sorts within the window the next listing covers, and the
//! keys already seen there are remembered, so nothing is read twice or missed, as long
//! as clocks and writes are within [`WINDOW`] of each other. Beyond that, the periodic
//! full rescan (`CACHE_INTERVAL`) still finds the change. Records older than
//! [`RETENTION`] are deleted by whichever replica notices them first.

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

/// How far before the newest record seen a listing starts: covers clock differences
/// between replicas and writes that take long (a store node down: 0.1–0.4 s seen).
pub const WINDOW: Duration = Duration::from_secs(10);
/// A listing happens at least this often even when the head did not change.
const RELIST: Duration = Duration::from_secs(5);
/// Records older than this are deleted: a replica away for longer rescans the bucket.
pub const RETENTION: Duration = Duration::from_secs(5 * 60);
/// A replica that could not read the journal for this long may have missed records that
/// were swept meanwhile, and must rescan.
pub const JOURNAL_GAP: Duration = Duration::from_secs(RETENTION.as_secs() - WINDOW.as_secs() - 60);
/// How often a replica looks for records past [`RETENTION`].
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Records fetched at once.
const PARALLEL_READS: usize = 32;

/// The log of changes, as a store shared by replicas keeps it. Calls block.
pub trait Journal: Send + Sync {
    /// Appends a record: durable, and found by every other replica's next
    /// [`Journal::read_new`], when this returns.
    fn append(&self, record: Vec<u8>) -> io::Result<()>;
    /// The records other replicas appended since `cursor` was last moved, oldest first;
    /// moves `cursor` past them.
    fn read_new(&self, cursor: &mut JournalCursor) -> io::Result<Vec<Bytes>>;
}

/// Where a replica is in the journal.
#[derive(Debug)]
pub struct JournalCursor {
    /// The head's ETag when last read.
    head: Option<String>,
    /// Milliseconds of the newest record seen.
    newest: u64,
    /// Keys seen within [`WINDOW`] of `newest`.
    seen: BTreeSet<String>,
    listed: Option<Instant>,
    swept: Instant,
}

impl JournalCursor {
    /// A cursor for records written from now on, less [`WINDOW`]: taken before a scan of
    /// the bucket, so that what changes during the scan is read again after it.
    pub fn now() -> JournalCursor {
        JournalCursor { head: None, newest: now_millis(), seen: BTreeSet::new(), listed: None, swept: Instant::now() }
    }
}

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// The journal's objects in one bucket, for one replica.
pub struct BucketJournal {
    store: Arc<dyn ObjectStore>,
    /// `<prefix>/.charthall/journal`
    records: Path,
    /// `<prefix>/.charthall/journal.head`
    head: Path,
    /// This replica's name in record keys, random per start.
    replica: String,
    sequence: AtomicU64,
    /// The newest time this replica has put in a key: keys of one replica only grow.
    last_millis: AtomicU64,
}

impl BucketJournal {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &Path, replica: String) -> BucketJournal {
        let base = prefix.child(".charthall");
        BucketJournal {
            store,
            records: base.child("journal"),
            head: base.child("journal.head"),
            replica,
            sequence: AtomicU64::new(0),
            last_millis: AtomicU64::new(0),
        }
    }

    pub async fn append(&self, record: Vec<u8>) -> object_store::Result<()> {
        let millis = self.last_millis.fetch_max(now_millis(), Ordering::AcqRel).max(now_millis());
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let key = format!("{millis:013}-{}-{sequence:010}", self.replica);
        self.store.put(&self.records.child(key.as_str()), PutPayload::from(record)).await?;
        // A key never repeats, so the head's content — and its ETag — is new every time.
        self.store.put(&self.head, PutPayload::from(key.into_bytes())).await?;
        Ok(())
    }

    pub async fn read_new(&self, cursor: &mut JournalCursor) -> object_store::Result<Vec<Bytes>> {
        let head = match self.store.head(&self.head).await {
            Ok(meta) => meta.e_tag,
            Err(object_store::Error::NotFound { .. }) => None,
            Err(error) => return Err(error),
        };
        let due = cursor.listed.is_none_or(|listed| listed.elapsed() >= RELIST);
        if head == cursor.head && !due {
            return Ok(Vec::new());
        }
        let from = cursor.newest.saturating_sub(WINDOW.as_millis() as u64);
        let offset = self.records.child(format!("{from:013}").as_str());
        let listed: Vec<_> = self.store.list_with_offset(Some(&self.records), &offset).try_collect().await?;
        let mut keys: Vec<String> = listed
            .into_iter()
            .filter_map(|meta| meta.location.filename().map(str::to_string))
            .filter(|key| !cursor.seen.contains(key))
            .collect();
        keys.sort();
        let own = format!("-{}-", self.replica);
        let theirs: Vec<Path> =
            keys.iter().filter(|key| !key.contains(&own)).map(|key| self.records.child(key.as_str())).collect();
        let store = self.store.clone();
        let records: Vec<Bytes> = futures_util::stream::iter(theirs)
            .map(move |path| {
                let store = store.clone();
                async move {
                    match store.get(&path).await {
                        Ok(found) => found.bytes().await.map(Some),
                        // Swept meanwhile: too old to matter.
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(error) => Err(error),
                    }
                }
            })
            .buffered(PARALLEL_READS)
            .try_filter_map(|record| async move { Ok(record) })
            .try_collect()
            .await?;
        for key in keys {
            if let Some(millis) = key.split('-').next().and_then(|m| m.parse::<u64>().ok()) {
                cursor.newest = cursor.newest.max(millis);
            }
            cursor.seen.insert(key);
        }
        let forget_before = format!("{:013}", cursor.newest.saturating_sub(WINDOW.as_millis() as u64));
        cursor.seen = cursor.seen.split_off(&forget_before);
        cursor.head = head;
        cursor.listed = Some(Instant::now());
        if cursor.swept.elapsed() >= SWEEP_EVERY {
            cursor.swept = Instant::now();
            self.sweep().await?;
        }
        Ok(records)
    }

    /// Deletes records older than [`RETENTION`].
    async fn sweep(&self) -> object_store::Result<()> {
        let cutoff = format!("{:013}", now_millis().saturating_sub(RETENTION.as_millis() as u64));
        let mut listing = self.store.list(Some(&self.records));
        let mut old = Vec::new();
        while let Some(meta) = listing.try_next().await? {
            match meta.location.filename() {
                Some(key) if key < cutoff.as_str() => old.push(meta.location),
                _ => break,
            }
        }
        for location in old {
            match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}
