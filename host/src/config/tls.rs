//! Lowering of the TLS and HTTP/2 settings: `[tls]` certificates, `server.listen_tls`,
//! an upstream's `protocol` and `tls`, and `[http2]`. Files are only named here; they are
//! read (and their errors reported at these positions) when a snapshot is built.

use std::net::SocketAddr;
use std::path::PathBuf;

use toml::Spanned;

use super::check;
use super::locate::Locator;
use super::model::{CertificateConfig, Http2Config, TlsConfig, UpstreamProtocol, UpstreamTls};
use super::raw::{RawTls, RawUpstreamTls};
use super::ConfigError;

pub(super) fn certificates(raw: RawTls, at: &Locator<'_>) -> Result<TlsConfig, ConfigError> {
    let mut certificates = Vec::with_capacity(raw.certificates.len());
    let mut default_seen = false;
    for (i, entry) in raw.certificates.iter().enumerate() {
        let key = format!("tls.certificates[{i}]");
        let cert_entry = entry.get_ref();
        let names_raw = cert_entry.names.get_ref();
        if names_raw.is_empty() {
            let message = "no names; list the SNI names this certificate serves, such as [\"example.com\"]";
            return Err(at.at(cert_entry.names.span(), format!("{key}.names"), message));
        }
        let mut names = Vec::with_capacity(names_raw.len());
        for (j, name) in names_raw.iter().enumerate() {
            let text = name.get_ref();
            let bare = text.strip_prefix("*.").unwrap_or(text);
            if check::host_pattern(bare).is_err() || bare.contains('*') || bare.contains(':') {
                let message = format!("invalid name {text:?}: expected a DNS name or *.domain");
                return Err(at.at(name.span(), format!("{key}.names[{j}]"), message));
            }
            names.push(text.to_ascii_lowercase());
        }
        if cert_entry.default {
            if default_seen {
                return Err(at.at(
                    entry.span(),
                    format!("{key}.default"),
                    "another certificate is already the default",
                ));
            }
            default_seen = true;
        }
        certificates.push(CertificateConfig {
            cert: path(&cert_entry.cert, &format!("{key}.cert"), at)?,
            key: path(&cert_entry.key, &format!("{key}.key"), at)?,
            names,
            default: cert_entry.default,
            at: at.position(entry.span(), key),
        });
    }
    Ok(TlsConfig { certificates })
}

/// `server.listen_tls`: addresses, none repeated or also in `server.listen`, and only with
/// certificates to present.
pub(super) fn listen_tls(
    raw: Option<&Spanned<Vec<Spanned<String>>>>,
    listen: &[SocketAddr],
    tls: &TlsConfig,
    at: &Locator<'_>,
) -> Result<Vec<SocketAddr>, ConfigError> {
    let Some(raw) = raw else { return Ok(Vec::new()) };
    if !raw.get_ref().is_empty() && tls.certificates.is_empty() {
        let message = "TLS listeners need a certificate: add a [[tls.certificates]] entry";
        return Err(at.at(raw.span(), "server.listen_tls", message));
    }
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(raw.get_ref().len());
    for (i, text) in raw.get_ref().iter().enumerate() {
        let key = format!("server.listen_tls[{i}]");
        let addr = check::listen_addr(text.get_ref()).map_err(|message| at.at(text.span(), &key, message))?;
        if addr.port() != 0 && (addrs.contains(&addr) || listen.contains(&addr)) {
            return Err(at.at(text.span(), key, format!("{addr} is listed twice")));
        }
        addrs.push(addr);
    }
    Ok(addrs)
}

/// An upstream's `protocol` and `tls`: `h2` needs TLS (its ALPN), `h2c` is cleartext.
pub(super) fn upstream(
    prefix: &str,
    protocol: Option<&Spanned<UpstreamProtocol>>,
    raw: Option<&Spanned<RawUpstreamTls>>,
    at: &Locator<'_>,
) -> Result<Option<UpstreamTls>, ConfigError> {
    let span = protocol.map_or(0..0, |p| p.span());
    match (protocol.map_or(UpstreamProtocol::default(), |p| *p.get_ref()), raw) {
        (UpstreamProtocol::H2, None) => {
            let message = "\"h2\" is HTTP/2 over TLS: add `tls = {}` (or use \"h2c\" for cleartext)";
            return Err(at.at(span, format!("{prefix}.protocol"), message));
        }
        (UpstreamProtocol::H2c, Some(tls)) => {
            let message = "\"h2c\" is cleartext HTTP/2: remove `tls` (or use \"h2\")";
            return Err(at.at(tls.span(), format!("{prefix}.tls"), message));
        }
        _ => {}
    }
    let Some(raw) = raw else { return Ok(None) };
    let key = format!("{prefix}.tls");
    let tls = raw.get_ref();
    let optional = |value: &Option<Spanned<String>>, name: &str| match value {
        Some(text) => path(text, &format!("{key}.{name}"), at).map(Some),
        None => Ok(None),
    };
    let client_cert = optional(&tls.client_cert, "client_cert")?;
    let client_key = optional(&tls.client_key, "client_key")?;
    if client_cert.is_some() != client_key.is_some() {
        let message = "`client_cert` and `client_key` go together: set both or neither";
        return Err(at.at(raw.span(), key, message));
    }
    let sni = match &tls.sni {
        Some(name) => {
            let text = name.get_ref();
            if rustls_pki_types::ServerName::try_from(text.as_str()).is_err() {
                return Err(at.at(name.span(), format!("{key}.sni"), format!("invalid server name {text:?}")));
            }
            Some(text.to_ascii_lowercase())
        }
        None => None,
    };
    Ok(Some(UpstreamTls {
        ca: optional(&tls.ca, "ca")?,
        sni,
        client_cert,
        client_key,
        at: at.position(raw.span(), key),
    }))
}

pub(super) fn http2(raw: Option<Spanned<Http2Config>>, at: &Locator<'_>) -> Result<Http2Config, ConfigError> {
    let Some(raw) = raw else { return Ok(Http2Config::default()) };
    let span = raw.span();
    let config = raw.into_inner();
    let limit = Http2Config::MAX_CONCURRENT_STREAMS_LIMIT;
    if config.max_concurrent_streams == 0 || config.max_concurrent_streams > limit {
        let message = format!("must be 1 to {limit}: every open stream may hold an upstream request");
        return Err(at.at(span, "http2.max_concurrent_streams", message));
    }
    // h2 cannot express windows beyond 2^31 - 1, and below 64 KiB (the protocol's initial
    // window) uploads would crawl.
    for (name, value) in [("stream_window", config.stream_window), ("connection_window", config.connection_window)] {
        if !(65_535..=(1 << 30)).contains(&value) {
            return Err(at.at(span.clone(), format!("http2.{name}"), "must be between 64KiB and 1GiB"));
        }
    }
    if config.max_header_list_size < 1024 {
        return Err(at.at(span, "http2.max_header_list_size", "must be at least 1KiB"));
    }
    if config.max_resets == 0 {
        return Err(at.at(span, "http2.max_resets", "must be at least 1: clients cancel requests legitimately"));
    }
    Ok(config)
}

fn path(text: &Spanned<String>, key: &str, at: &Locator<'_>) -> Result<PathBuf, ConfigError> {
    if text.get_ref().is_empty() {
        return Err(at.at(text.span(), key, "empty path"));
    }
    Ok(PathBuf::from(text.get_ref()))
}
