//! The TLS listeners' side: a certificate per SNI name (exact, then `*.domain`, then the
//! default), ALPN `h2` before `http/1.1`.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use super::{pem, provider, ALPN_H2, ALPN_HTTP11};
use crate::config::{ConfigError, TlsConfig};

/// What a TLS listener hands every new connection to.
#[derive(Clone)]
pub(crate) struct ServerTls {
    pub acceptor: TlsAcceptor,
}

impl ServerTls {
    /// Reads every certificate and key, checks that each key matches its certificate and
    /// that the certificate is valid for the names it is listed under. `None` without
    /// certificates.
    pub fn load(config: &TlsConfig) -> Result<Option<ServerTls>, ConfigError> {
        if config.certificates.is_empty() {
            return Ok(None);
        }
        let provider = provider();
        let mut by_name = Certificates::default();
        for (index, entry) in config.certificates.iter().enumerate() {
            let chain = pem::certificates(&entry.cert, &entry.at)?;
            let key = pem::private_key(&entry.key, &entry.at)?;
            let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|err| {
                entry.at.error(format!(
                    "{} and {} do not make a usable pair: {err}",
                    entry.cert.display(),
                    entry.key.display()
                ))
            })?;
            let leaf = certified.end_entity_cert().map_err(|err| entry.at.error(err.to_string()))?.clone().into_owned();
            let parsed = rustls::server::ParsedCertificate::try_from(&leaf)
                .map_err(|err| entry.at.error(format!("{}: {err}", entry.cert.display())))?;
            let certified = Arc::new(certified);
            for name in &entry.names {
                // A wildcard entry is checked with a name it must cover.
                let probe = match name.strip_prefix("*.") {
                    Some(domain) => format!("portcullis-probe.{domain}"),
                    None => name.clone(),
                };
                let server_name = rustls_pki_types::ServerName::try_from(probe.as_str())
                    .map_err(|err| entry.at.error(format!("name {name:?}: {err}")))?;
                rustls::client::verify_server_name(&parsed, &server_name)
                    .map_err(|_| entry.at.error(format!("{} is not valid for {name:?}", entry.cert.display())))?;
                match name.strip_prefix("*.") {
                    Some(domain) => by_name.wildcard.entry(domain.to_owned()).or_insert_with(|| certified.clone()),
                    None => by_name.exact.entry(name.clone()).or_insert_with(|| certified.clone()),
                };
            }
            if entry.default || (index == 0 && !config.certificates.iter().any(|c| c.default)) {
                by_name.default = Some(certified);
            }
        }
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| ConfigError::whole_file("[tls]", err.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(by_name));
        server.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
        Ok(Some(ServerTls { acceptor: TlsAcceptor::from(Arc::new(server)) }))
    }
}

#[derive(Debug, Default)]
struct Certificates {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// By the domain after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // rustls hands the SNI name over lowercased and without a trailing dot.
        let named = hello.server_name().and_then(|name| {
            self.exact.get(name).or_else(|| {
                let (_, domain) = name.split_once('.')?;
                self.wildcard.get(domain)
            })
        });
        named.or(self.default.as_ref()).cloned()
    }
}
