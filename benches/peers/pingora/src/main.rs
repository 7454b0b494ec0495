//! The Pingora peer of the gateway benchmark: the smallest Pingora reverse proxy that does what
//! each benchmark scenario asks of every peer, configured the way a Pingora user plausibly would
//! (one `ProxyHttp` impl, stock server and connector), so that the numbers measure Pingora and
//! not this file.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use aho_corasick::AhoCorasick;
use async_trait::async_trait;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use log::{warn, Level, LevelFilter, Log, Metadata, Record};
use pingora::apps::HttpServerOptions;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::protocols::http::ServerSession;
use pingora::proxy::{FailToProxy, ProxyHttp, ProxyServiceBuilder, Session};
use pingora::server::configuration::ServerConf;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Plain,
    Rewrite,
    Waf,
    OriginSelect,
}

#[derive(Parser)]
#[command(name = "pingora-peer", about = "Minimal Pingora reverse proxy (benchmark peer)")]
struct Args {
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on this one address.
    #[arg(long)]
    listen: SocketAddr,
    #[arg(long)]
    origin_a: SocketAddr,
    #[arg(long)]
    origin_b: SocketAddr,
    /// Upstream keep-alive pool size (idle connections kept for reuse).
    #[arg(long)]
    pool: usize,
}

/// Request fields the rewrite scenario strips before forwarding.
const INTERNAL_HEADERS: [&str; 3] = ["x-internal-user", "x-internal-trace", "x-internal-debug"];

/// The WAF scenario's patterns, matched ASCII-case-insensitively as substrings of the raw target.
const WAF_PATTERNS: [&str; 20] = [
    "../",
    "/etc/passwd",
    "/wp-login.php",
    "/.env",
    "/.git/",
    "phpmyadmin",
    "union+select",
    "%3cscript",
    "sleep(",
    "benchmark(",
    "information_schema",
    "cmd.exe",
    "/bin/sh",
    "base64_decode",
    "eval(",
    "javascript:",
    "onerror=",
    "xp_cmdshell",
    "/proc/self",
    "load_file(",
];

const FORBIDDEN_BODY: &[u8] = b"forbidden\n";

struct Peer {
    scenario: Scenario,
    // Built once: `upstream_peer` hands out clones, and the connector's pool keys on the peer's
    // address and options, not on the instance, so clones share pooled connections.
    origin_a: HttpPeer,
    origin_b: HttpPeer,
    // One automaton for all patterns: a single pass over the target, no per-request lowercasing
    // copy. It is what a Rust user would reach for, and already in Pingora's dependency tree.
    waf: AhoCorasick,
}

#[async_trait]
impl ProxyHttp for Peer {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn early_request_filter(&self, session: &mut Session, _ctx: &mut ()) -> Result<()> {
        // Pingora's HTTP/1.1 default answers the first of pipelined requests and then closes the
        // connection, dropping the rest; nginx and HAProxy serve them in order. Opting in (a
        // no-op on HTTP/2) keeps a pipelining client (`h2load --h1 -m N`) working here too.
        session.set_pipelining_enabled(true);
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, _ctx: &mut ()) -> Result<bool> {
        if self.scenario != Scenario::Waf || !self.waf.is_match(session.req_header().raw_path()) {
            return Ok(false);
        }
        // Answered by hand rather than with `respond_error`, which would also close the
        // downstream connection; a blocked request should not cost the client its keep-alive.
        let mut resp = ResponseHeader::build(403, Some(2))?;
        resp.insert_header("content-length", FORBIDDEN_BODY.len())?;
        resp.insert_header("content-type", "text/plain")?;
        session.write_response_header(Box::new(resp), false).await?;
        session.write_response_body(Some(Bytes::from_static(FORBIDDEN_BODY)), true).await?;
        Ok(true)
    }

    async fn upstream_peer(&self, session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let to_b = self.scenario == Scenario::OriginSelect
            && session.req_header().headers.get("x-backend").is_some_and(|value| value.as_bytes() == b"b");
        Ok(Box::new(if to_b { &self.origin_b } else { &self.origin_a }.clone()))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        _ctx: &mut (),
    ) -> Result<()> {
        if self.scenario == Scenario::Rewrite {
            // `remove_header` drops every field of that name, whatever its case on the wire.
            for name in INTERNAL_HEADERS {
                upstream_request.remove_header(name);
            }
            upstream_request.insert_header("x-request-tag", "bench")?;
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        _ctx: &mut (),
    ) -> Result<()> {
        if self.scenario == Scenario::Rewrite {
            upstream_response.insert_header("x-response-tag", "bench")?;
        }
        Ok(())
    }

    /// Pingora's default, except that the rewrite scenario tags the error responses Pingora makes
    /// itself too (they bypass `response_filter`), as the other peers tag every response.
    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, _ctx: &mut ()) -> FailToProxy {
        let code = match e.etype() {
            HTTPStatus(code) => *code,
            _ => match e.esource() {
                ErrorSource::Upstream => 502,
                // The connection is already gone: nothing to answer.
                ErrorSource::Downstream if matches!(e.etype(), WriteError | ReadError | ConnectionClosed) => 0,
                ErrorSource::Downstream => 400,
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        if code > 0 {
            let mut resp = ServerSession::generate_error(code);
            if self.scenario == Scenario::Rewrite {
                resp.insert_header("x-response-tag", "bench").ok();
            }
            if let Err(e) = session.as_downstream_mut().write_error_response(resp, Bytes::new()).await {
                warn!("failed to send error response downstream: {e}");
            }
        }
        FailToProxy { error_code: code, can_reuse_downstream: false }
    }
}

/// Pingora logs through `log`; this prints warnings and errors to stderr and drops the rest,
/// which is all the benchmark wants and saves pulling in a logging crate.
struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Warn
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            eprintln!("pingora-peer {} {}: {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

fn main() -> ExitCode {
    let args = Args::parse();
    if log::set_logger(&StderrLogger).is_ok() {
        log::set_max_level(LevelFilter::Warn);
    }
    // Pingora binds inside `run_forever`, so the address printed below must be the real one.
    if args.listen.port() == 0 {
        eprintln!("pingora-peer: --listen needs an explicit port");
        return ExitCode::FAILURE;
    }
    let waf = match AhoCorasick::builder().ascii_case_insensitive(true).build(WAF_PATTERNS) {
        Ok(waf) => waf,
        Err(e) => {
            eprintln!("pingora-peer: building the WAF automaton: {e}");
            return ExitCode::FAILURE;
        }
    };

    let conf = ServerConf {
        threads: 1,
        // Pingora multiplies this by `threads` for its one global LRU pool; with one thread it
        // is the number of idle upstream connections kept, not a cap on open ones.
        upstream_keepalive_pool_size: args.pool,
        // Defaults are a 300 s grace period plus 5 s for runtimes: far too slow for a harness
        // that stops peers between runs. No grace at all; the 1 s only bounds waiting for the
        // runtime's threads, as tokio drops in-flight tasks (and their connections) at once.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let peer = Peer {
        scenario: args.scenario,
        origin_a: HttpPeer::new(args.origin_a, false, String::new()),
        origin_b: HttpPeer::new(args.origin_b, false, String::new()),
        waf,
    };
    // `HttpServerOptions` is non-exhaustive, hence no struct literal.
    let mut options = HttpServerOptions::default();
    options.h2c = true;
    let mut service =
        ProxyServiceBuilder::new(&server.configuration, peer).name("pingora-peer").server_options(options).build();
    service.add_tcp(&args.listen.to_string());
    server.add_service(service);

    println!("pingora-peer listening on http://{}", args.listen);
    // A failed flush (stdout closed) must not stop the proxy: the harness may not read it.
    std::io::stdout().flush().ok();
    server.run_forever()
}
