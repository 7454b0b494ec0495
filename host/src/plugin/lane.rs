//! The slow lane: where a yielding call that outlives its first epoch tick finishes, so a
//! slow plugin (a heavy WAF rule) never holds a request worker for more than one tick.
//!
//! Yielding on the worker alone is not enough: every time a light request on the same
//! worker waits for I/O, the slow call would run again for a whole tick, adding a tick of
//! latency per wait. Most calls end within their first slice and never leave the worker.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;

use wasmtime::Result;

use super::dispatch::{Args, Call, Returned};

/// Runs a yielding call: its first slice on this thread, the rest (if any) on the lane; or
/// all of it on the lane when the caller expects it to be slow (`known_slow`), so the
/// worker does not spend that first slice either. The call always comes back with its
/// result (it holds the request), whichever thread finished it.
pub(crate) async fn run(call: Call, args: Args, known_slow: bool) -> (Call, Result<Returned>) {
    let mut future: Pin<Box<dyn Future<Output = (Call, Result<Returned>)> + Send>> = Box::pin(async move {
        let mut call = call;
        let result = call.yielding(&args).await;
        (call, result)
    });
    if !known_slow {
        let first = std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
            Poll::Ready(done) => Poll::Ready(Some(done)),
            Poll::Pending => Poll::Ready(None),
        })
        .await;
        if let Some(done) = first {
            return done;
        }
    }
    let Some(lane) = lane() else {
        // No lane (its threads could not start): finish here, still yielding at every tick.
        return future.await;
    };
    let mut task = AbortOnDrop(lane.spawn(future));
    match (&mut task.0).await {
        Ok(done) => done,
        // A host function panicked inside the call: the same as a panic on the worker.
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        // Only our own abort cancels a lane task, and that drops this future first.
        Err(err) => panic!("a slow-lane call was cancelled while its request waited for it: {err}"),
    }
}

/// A waiting request that goes away (its client left) takes its call with it: the call is
/// dropped at its next yield instead of running on to its deadline.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The lane's threads, one per CPU, started with the first slow call. They run only on CPU
/// time the request workers leave (see `run_when_idle`). `None` if they cannot start.
fn lane() -> Option<&'static tokio::runtime::Handle> {
    static LANE: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    let lane = LANE.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let built = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("portcullis-slow-lane")
            .on_thread_start(crate::sched::run_when_idle)
            .build();
        built.inspect_err(|err| tracing::error!(error = %err, "cannot start the slow lane: slow plugin calls stay on the request workers")).ok()
    });
    lane.as_ref().map(tokio::runtime::Runtime::handle)
}
