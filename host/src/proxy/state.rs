//! Everything a request needs, built once from a validated config and shared read-only by
//! all worker threads.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Config;
use crate::http1::request::HeadLimits;
use crate::plugin::{Chain, LoadError, Plugins};
use crate::pool::{Pool, PoolStats};
use crate::route::Router;
use crate::tls::ServerTls;
use crate::upstream::Upstream;

use super::forwarding::ForwardingFields;
use super::scrub::Scrubber;

pub struct Proxy {
    pub(crate) config: Config,
    /// The TLS listeners' certificates (read with this snapshot, so a reload renews them).
    pub(crate) tls: Option<ServerTls>,
    pub(crate) router: Router,
    pub(crate) upstreams: Vec<Upstream>,
    /// `route_upstream[i]` indexes `upstreams` for `config.routes[i]`, resolved at load so
    /// the request path never looks a name up.
    pub(crate) route_upstream: Vec<usize>,
    pub(crate) pool: Arc<Pool>,
    pub(crate) head_limits: HeadLimits,
    pub(crate) fields: ForwardingFields,
    pub(crate) scrub: Scrubber,
    pub(crate) plugins: Plugins,
    /// For `select-upstream`: a plugin names an upstream, the request path needs its index.
    pub(crate) upstream_by_name: HashMap<String, usize>,
    no_plugins: Chain,
}

impl Proxy {
    /// Loads the config's plugins and builds the shared state.
    pub fn build(config: Config) -> Result<Proxy, LoadError> {
        let plugins = Plugins::load(&config)?;
        let pool = Arc::new(Pool::new(&config.pool));
        Proxy::new(config, plugins, pool)
    }

    /// The next snapshot after a reload: a new config and plugins, the same connection pool
    /// (idle origin connections stay useful; `[pool]` settings apply from a restart).
    pub fn rebuild(config: Config, pool: Arc<Pool>) -> Result<Proxy, LoadError> {
        let plugins = Plugins::load(&config)?;
        Proxy::new(config, plugins, pool)
    }

    /// Builds the shared state. The config is already validated, so every route's upstream
    /// exists; what can still fail is reading the TLS files it names.
    fn new(config: Config, plugins: Plugins, pool: Arc<Pool>) -> Result<Proxy, LoadError> {
        let upstreams = config
            .upstreams
            .iter()
            .map(|(name, cfg)| Upstream::new(name, cfg))
            .collect::<Result<Vec<Upstream>, _>>()?;
        let tls = ServerTls::load(&config.tls)?;
        let upstream_by_name: HashMap<String, usize> =
            config.upstreams.keys().enumerate().map(|(i, name)| (name.clone(), i)).collect();
        let route_upstream =
            config.routes.iter().map(|r| upstream_by_name.get(&r.upstream).copied().unwrap_or(0)).collect();
        Ok(Proxy {
            tls,
            router: Router::new(&config.routes),
            upstreams,
            route_upstream,
            pool,
            head_limits: HeadLimits {
                max_headers: config.limits.max_headers,
                max_head_bytes: config.limits.max_head_bytes,
                max_request_line: config.limits.max_request_line,
            },
            fields: ForwardingFields::new(&config.forwarding),
            scrub: Scrubber::new(&config.scrub),
            plugins,
            upstream_by_name,
            no_plugins: Chain::default(),
            config,
        })
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// The plugin chain of `config.routes[route]`.
    pub(crate) fn chain(&self, route: usize) -> &Chain {
        self.plugins.chain(route).unwrap_or(&self.no_plugins)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }
}
