//! Listeners and the accept loop: one task per connection, a global connection limit, and
//! sockets bound with SO_REUSEPORT so a second process can bind the same address (the basis
//! of zero-downtime restarts).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;

use std::os::fd::AsFd;

use crate::admin::Admin;
use crate::config::Config;
use crate::handover::Inherited;
use crate::pool::PoolStats;
use crate::proxy::{accept, reject_overloaded, Proxy};

/// The snapshot every new request starts on; a reload swaps in a whole new one, and
/// requests in flight finish on the one they started with.
pub(crate) type Current = Arc<ArcSwap<Proxy>>;

/// A running gateway inside the current tokio runtime.
pub struct Gateway {
    current: Current,
    addrs: Vec<SocketAddr>,
    accept_tasks: Vec<JoinHandle<()>>,
    lifecycle: Arc<Lifecycle>,
    /// The admin listener's state and task, when `server.admin` is set.
    admin: Option<(Arc<Admin>, JoinHandle<()>, SocketAddr)>,
    /// Each listening socket by its configured address, for a handover.
    listen_fds: Vec<(SocketAddr, std::os::fd::OwnedFd)>,
}

/// What a shutdown needs to know: the signal to drain, and how many connections are open.
/// Every accept loop and connection holds it, so the signal outlives them all.
pub(crate) struct Lifecycle {
    draining: watch::Sender<bool>,
    open: AtomicUsize,
    /// Told when `open` drops to zero.
    all_closed: Notify,
}

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Counts a connection open (in total and on its listener's gauge) until the returned
    /// guard drops.
    fn opened(self: &Arc<Lifecycle>, listener_gauge: &Gauge) -> OpenConnection {
        self.open.fetch_add(1, Ordering::SeqCst);
        listener_gauge.inc();
        OpenConnection(self.clone(), listener_gauge.clone())
    }

    async fn until_all_closed(&self) {
        loop {
            let closed = self.all_closed.notified();
            tokio::pin!(closed);
            // Registered before the check, so a close in between is not missed.
            closed.as_mut().enable();
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            closed.await;
        }
    }
}

struct OpenConnection(Arc<Lifecycle>, Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.1.dec();
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.all_closed.notify_waiters();
        }
    }
}

impl Gateway {
    /// Binds every listener and starts accepting. Fails (naming the address) if any bind fails.
    pub async fn start(config: Config) -> anyhow::Result<Gateway> {
        Gateway::start_with(config, Inherited(Vec::new())).await
    }

    /// `start`, serving on the listening sockets a previous process handed over where their
    /// configured address matches (binding the others).
    pub(crate) async fn start_with(config: Config, mut inherited: Inherited) -> anyhow::Result<Gateway> {
        // Plugins first: a config that fails to load must not leave a port open meanwhile.
        let proxy = Proxy::build(config)?;
        let config = proxy.config();
        let mut listeners = Vec::with_capacity(config.server.listen.len());
        let mut listen_fds = Vec::with_capacity(config.server.listen.len());
        let plain = config.server.listen.iter().map(|addr| (addr, false));
        for (addr, tls) in plain.chain(config.server.listen_tls.iter().map(|addr| (addr, true))) {
            let listener = match inherited.0.iter().position(|(configured, _)| configured == addr) {
                Some(at) => TcpListener::from_std(inherited.0.swap_remove(at).1)?,
                None => bind(*addr, config.server.reuse_port).with_context(|| format!("cannot listen on {addr}"))?,
            };
            // A duplicate of the descriptor, to hand the socket to a successor (`handover`).
            listen_fds.push((*addr, listener.as_fd().try_clone_to_owned()?));
            listeners.push((listener, tls));
        }
        let limits = Arc::new(ConnectionLimits::new(config.server.max_connections));
        let lifecycle = Arc::new(Lifecycle {
            draining: watch::Sender::new(false),
            open: AtomicUsize::new(0),
            all_closed: Notify::new(),
        });
        proxy.pool.spawn_reaper();
        let current: Current = Arc::new(ArcSwap::from_pointee(proxy));
        let mut addrs = Vec::with_capacity(listeners.len());
        let mut accept_tasks = Vec::with_capacity(listeners.len());
        let admin_addr = current.load().config().server.admin;
        let admin = match admin_addr {
            Some(addr) => {
                let listener =
                    bind(addr, false).with_context(|| format!("cannot listen on {addr} (`server.admin`)"))?;
                let bound = listener.local_addr()?;
                let admin = Arc::new(Admin {
                    current: current.clone(),
                    lifecycle: lifecycle.clone(),
                    config_path: std::sync::OnceLock::new(),
                });
                let task = tokio::spawn(crate::admin::serve(listener, admin.clone()));
                Some((admin, task, bound))
            }
            None => None,
        };
        for (listener, tls) in listeners {
            addrs.push(listener.local_addr()?);
            let accepting = accept_loop(listener, tls, current.clone(), limits.clone(), lifecycle.clone());
            accept_tasks.push(tokio::spawn(accepting));
        }
        Ok(Gateway { current, addrs, accept_tasks, lifecycle, admin, listen_fds })
    }

    /// Builds a whole new snapshot from `config` — routes, compiled (or cached) plugins,
    /// configured instances — off the request path, then swaps it in. On any error the
    /// running snapshot stays and the error says why. Listeners and the connection pool
    /// carry over; changing `server.listen` needs a restart.
    pub async fn reload(&self, config: Config) -> anyhow::Result<()> {
        reload_into(&self.current, config).await
    }

    /// Lets `POST /reload` on the admin listener reload from `path`.
    pub fn serve_reloads_from(&self, path: &std::path::Path) {
        if let Some((admin, _, _)) = &self.admin {
            let _ = admin.config_path.set(path.to_owned());
        }
    }

    /// Duplicates of the listening sockets, by configured address, for a successor process.
    fn listen_fds(&self) -> std::io::Result<Vec<(SocketAddr, std::os::fd::OwnedFd)>> {
        self.listen_fds.iter().map(|(addr, fd)| Ok((*addr, fd.try_clone()?))).collect()
    }

    /// The admin listener's address, if there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, _, addr)| *addr)
    }

    /// The bound addresses, in `server.listen` order, then `server.listen_tls` (useful
    /// with port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// For each of `local_addrs`: whether it is a TLS listener.
    pub fn listener_tls(&self) -> impl Iterator<Item = bool> + '_ {
        let snapshot = self.current.load();
        let server = &snapshot.config().server;
        let plain = std::iter::repeat_n(false, server.listen.len());
        plain.chain(std::iter::repeat_n(true, server.listen_tls.len())).collect::<Vec<_>>().into_iter()
    }

    /// The running snapshot (its config, plugins, pool).
    pub fn snapshot(&self) -> Arc<Proxy> {
        self.current.load_full()
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.current.load().pool_stats()
    }

    /// Stops accepting; connections in flight keep running for as long as the runtime does.
    pub fn stop_accepting(&self) {
        for task in &self.accept_tasks {
            task.abort();
        }
    }

    /// Stops accepting and returns once every listening socket is closed, so that with
    /// SO_REUSEPORT the kernel sends new connections only to the other listeners.
    pub async fn close_listeners(mut self) {
        self.stop_accepting();
        for task in std::mem::take(&mut self.accept_tasks) {
            let _ = task.await;
        }
    }

    /// Graceful shutdown: stops accepting (after taking the connections the kernel has
    /// already queued), closes idle keep-alive connections, lets requests in flight finish
    /// (their responses close their connections) and returns when all connections are
    /// closed or `grace` has passed. Returns how many were still open then.
    pub async fn shutdown(mut self, grace: Duration) -> usize {
        self.lifecycle.draining.send_replace(true);
        for task in std::mem::take(&mut self.accept_tasks) {
            let _ = task.await;
        }
        // The duplicates kept for a handover hold the sockets open too: without them the
        // kernel refuses new connections instead of queueing them for nobody.
        self.listen_fds.clear();
        let _ = tokio::time::timeout(grace, self.lifecycle.until_all_closed()).await;
        if let Some((_, task, _)) = self.admin.take() {
            task.abort();
        }
        self.lifecycle.open.load(Ordering::SeqCst)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop_accepting();
        if let Some((_, task, _)) = &self.admin {
            task.abort();
        }
    }
}

/// Builds a whole new snapshot from `config` off the request path and swaps it in; see
/// `Gateway::reload`.
pub(crate) async fn reload_into(current: &Current, config: Config) -> anyhow::Result<()> {
    let running = current.load_full();
    let addresses = |c: &Config| (c.server.listen.clone(), c.server.listen_tls.clone(), c.server.admin);
    if addresses(&config) != addresses(running.config()) {
        crate::metrics::metrics().reload(false);
        anyhow::bail!(
            "`server.listen`, `server.listen_tls` and `server.admin` cannot change on reload; restart the gateway to listen elsewhere"
        );
    }
    let pool = running.pool.clone();
    let next =
        tokio::task::spawn_blocking(move || Proxy::rebuild(config, pool)).await.context("the reload task failed");
    crate::metrics::metrics().reload(matches!(next, Ok(Ok(_))));
    current.store(Arc::new(next??));
    Ok(())
}

fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Permits for served connections, and a smaller pool for polite refusals: answering 503
/// costs a task and a short linger, so during a connection flood only so many get an
/// answer and the rest are closed at once.
struct ConnectionLimits {
    served: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
}

impl ConnectionLimits {
    fn new(max_connections: usize) -> ConnectionLimits {
        let refusals = (max_connections / 8).clamp(16, 1024);
        ConnectionLimits {
            served: Arc::new(Semaphore::new(max_connections)),
            refusals: Arc::new(Semaphore::new(refusals)),
        }
    }
}

/// `tls`: the listener is one of `server.listen_tls`.
async fn accept_loop(
    listener: TcpListener,
    tls: bool,
    current: Current,
    limits: Arc<ConnectionLimits>,
    lifecycle: Arc<Lifecycle>,
) {
    let mut draining = lifecycle.draining.subscribe();
    let gauge = match listener.local_addr() {
        Ok(addr) => crate::metrics::metrics().listener_connections(addr),
        Err(_) => Gauge::default(),
    };
    loop {
        let accepted = tokio::select! {
            biased;
            // (`map` drops the borrow of the value before the arm awaits.)
            _ = async { draining.wait_for(|draining| *draining).await.map(drop) } => {
                // Connections the kernel completed before we stopped are served (with
                // `Connection: close`) rather than reset when the socket closes.
                match tokio::time::timeout(Duration::ZERO, listener.accept()).await {
                    Ok(accepted) => accepted,
                    Err(_) => return,
                }
            }
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and friends: back off briefly instead of spinning on the error.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let open = lifecycle.opened(&gauge);
        if let Ok(permit) = limits.served.clone().try_acquire_owned() {
            let current = current.clone();
            let draining = lifecycle.draining.subscribe();
            tokio::spawn(async move {
                accept(current, stream, peer, draining, tls).await;
                drop((permit, open));
            });
        } else if tls {
            // A plaintext 503 would be noise inside a TLS session; a handshake just to refuse
            // would spend the CPU the limit is protecting. Closing says "try later" as well.
            tracing::warn!(%peer, "max_connections reached; closing a TLS connection");
        } else if let Ok(permit) = limits.refusals.clone().try_acquire_owned() {
            tracing::warn!(%peer, "max_connections reached; answering 503");
            let proxy = current.load_full();
            tokio::spawn(async move {
                reject_overloaded(proxy, stream).await;
                drop((permit, open));
            });
        } else {
            tracing::debug!(%peer, "max_connections reached and refusals saturated; closing");
        }
    }
}

/// Runs the gateway until SIGINT or SIGTERM, on a runtime with `server.workers` threads,
/// then shuts down gracefully (`Gateway::shutdown`) within `timeouts.drain` and returns.
///
/// Meanwhile it reloads (see `reload`) on SIGHUP and when the config file or a plugin file
/// changes.
///
/// With `upgrade`, it first takes the listening sockets of the gateway serving handovers at
/// `server.handover` and, once serving, lets that one drain (zero-downtime restart).
pub fn run(path: &std::path::Path, upgrade: bool) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let handover_path = config.server.handover.clone();
    let taken = match (&handover_path, upgrade) {
        (Some(socket), true) => Some(crate::handover::take(socket)?),
        (None, true) => {
            anyhow::bail!("`run --upgrade` takes over through `server.handover`, which this config does not set")
        }
        (_, false) => None,
    };
    runtime(&config)?.block_on(async {
        let (inherited, predecessor) = match taken {
            Some((inherited, stream)) => (inherited, Some(stream)),
            None => (Inherited(Vec::new()), None),
        };
        let gateway = Gateway::start_with(config, inherited).await?;
        gateway.serve_reloads_from(path);
        // Before the first line is printed: see `signals`.
        let mut shutdown = crate::signals::Shutdown::install();
        let reloads = crate::reload::Watcher::new(&gateway, path);
        // Scripts and tests read these lines to learn the bound ports; the admin line first.
        if let Some(addr) = gateway.admin_addr() {
            println!("portcullis admin on http://{addr} (/metrics /healthz /readyz /plugins /config, POST /reload)");
        }
        if let Some(stream) = predecessor {
            // Serving now: the old process may drain.
            tokio::task::spawn_blocking(move || crate::handover::confirm(stream)).await??;
        }
        for (addr, tls) in gateway.local_addrs().iter().zip(gateway.listener_tls()) {
            println!("portcullis listening on {}://{addr}", if tls { "https" } else { "http" });
        }
        let handovers = async {
            match (handover_path, gateway.listen_fds()) {
                (Some(socket), Ok(fds)) => crate::handover::serve(socket, fds).await,
                (Some(_), Err(err)) => {
                    tracing::error!(error = %err, "cannot duplicate the listening sockets; restarts will not be seamless");
                    std::future::pending().await
                }
                (None, _) => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.recv() => {}
            () = reloads.run(&gateway) => {}
            () = handovers => {}
        }
        let grace = gateway.snapshot().config().timeouts.drain;
        tracing::info!(?grace, "shutting down: finishing requests in flight");
        match gateway.shutdown(grace).await {
            0 => tracing::info!("all connections closed"),
            open => tracing::warn!(open, "drain time over; closing the connections still open"),
        }
        Ok(())
    })
}

/// Loads a config file and its plugins as `run` would, without listening: every config
/// and plugin error `run` would hit is reported. Returns a note on what was loaded.
pub fn check(path: &std::path::Path) -> anyhow::Result<String> {
    let config = Config::load(path)?;
    crate::tls::ServerTls::load(&config.tls)?;
    for (name, upstream) in &config.upstreams {
        crate::upstream::Upstream::new(name, upstream)?;
    }
    let plugins = crate::plugin::Plugins::load(&config)?;
    let names: Vec<String> = plugins.info().into_iter().map(|p| p.name).collect();
    Ok(match names.len() {
        0 => String::new(),
        _ => format!(" ({} plugin{}: {})", names.len(), if names.len() == 1 { "" } else { "s" }, names.join(", ")),
    })
}

pub fn runtime(config: &Config) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = config.server.workers {
        builder.worker_threads(workers);
    }
    builder.enable_all().thread_name("portcullis-worker").build().context("cannot start the runtime")
}
