//! Shared HTTP/2 connections to origins: one per pool key, used by any number of requests
//! at once (the origin's MAX_CONCURRENT_STREAMS bounds them; `SendRequest::ready` waits for
//! a slot). Requests that find no connection wait for the one that is connecting instead
//! of each opening their own. A connection leaves when an attempt finds it dead or
//! refused; its driver task ends with it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use h2::client::SendRequest;
use tokio::sync::Mutex;

use super::PoolKey;

/// A shared connection's handle, with an id so that a failure forgets only the connection
/// it happened on (not a fresh one another request has opened since).
#[derive(Clone)]
pub(crate) struct Shared {
    pub sender: SendRequest<Bytes>,
    id: u64,
}

#[derive(Default)]
pub(crate) struct Multiplexed {
    /// Per key, the connection (if any); its lock is held while one is being opened.
    slots: DashMap<PoolKey, Arc<Mutex<Option<Shared>>>>,
    next_id: AtomicU64,
    reused: AtomicU64,
    new: AtomicU64,
}

impl Multiplexed {
    /// The key's shared connection, or a new one from `connect` (run by one request while
    /// the others for the key wait). `true` with a reused connection.
    pub(crate) async fn get_or_connect<E>(
        &self,
        key: &PoolKey,
        connect: impl Future<Output = Result<SendRequest<Bytes>, E>>,
    ) -> Result<(Shared, bool), E> {
        let slot = match self.slots.get(key) {
            Some(slot) => slot.clone(),
            None => self.slots.entry(key.clone()).or_default().clone(),
        };
        let mut current = slot.lock().await;
        if let Some(shared) = current.as_ref() {
            self.reused.fetch_add(1, Relaxed);
            return Ok((shared.clone(), true));
        }
        let sender = connect.await?;
        self.new.fetch_add(1, Relaxed);
        let shared = Shared { sender, id: self.next_id.fetch_add(1, Relaxed) };
        *current = Some(shared.clone());
        Ok((shared, false))
    }

    /// Drops `failed` from the pool, unless another connection has replaced it already.
    pub(crate) async fn forget(&self, key: &PoolKey, failed: &Shared) {
        let Some(slot) = self.slots.get(key).map(|slot| slot.clone()) else { return };
        let mut current = slot.lock().await;
        if current.as_ref().is_some_and(|shared| shared.id == failed.id) {
            *current = None;
        }
    }

    pub(crate) fn reused(&self) -> u64 {
        self.reused.load(Relaxed)
    }

    pub(crate) fn opened(&self) -> u64 {
        self.new.load(Relaxed)
    }
}
