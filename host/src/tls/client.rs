//! TLS towards an upstream: verified against the webpki roots or a configured CA, SNI per
//! endpoint, an optional client certificate, ALPN for the upstream's protocol.

use std::sync::Arc;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{pem, provider, ALPN_H2, ALPN_HTTP11};
use crate::config::{ConfigError, UpstreamConfig, UpstreamProtocol};

/// The client config of one upstream.
#[derive(Clone)]
pub(crate) struct UpstreamTls {
    connector: TlsConnector,
    /// `tls.sni`, when set; else each endpoint's host is sent.
    sni: Option<ServerName<'static>>,
    pub alpn: &'static [u8],
}

impl std::fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("sni", &self.sni)
            .field("alpn", &String::from_utf8_lossy(self.alpn))
            .finish()
    }
}

impl UpstreamTls {
    pub fn load(config: &UpstreamConfig) -> Result<Option<UpstreamTls>, ConfigError> {
        let Some(tls) = &config.tls else { return Ok(None) };
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca {
            Some(ca) => {
                for cert in pem::certificates(ca, &tls.at)? {
                    roots.add(cert).map_err(|err| tls.at.error(format!("{}: {err}", ca.display())))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|err| tls.at.error(err.to_string()))?
            .with_root_certificates(roots);
        let mut client = match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => {
                let chain = pem::certificates(cert, &tls.at)?;
                let key_der = pem::private_key(key, &tls.at)?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|err| tls.at.error(format!("{} and {}: {err}", cert.display(), key.display())))?
            }
            _ => builder.with_no_client_auth(),
        };
        let alpn = match config.protocol {
            UpstreamProtocol::H2 => ALPN_H2,
            UpstreamProtocol::Http1 | UpstreamProtocol::H2c => ALPN_HTTP11,
        };
        client.alpn_protocols = vec![alpn.to_vec()];
        let sni = match &tls.sni {
            Some(name) => {
                Some(ServerName::try_from(name.clone()).map_err(|err| tls.at.error(format!("sni {name:?}: {err}")))?)
            }
            None => None,
        };
        Ok(Some(UpstreamTls { connector: TlsConnector::from(Arc::new(client)), sni, alpn }))
    }

    /// The SNI name for `endpoint` (`host:port`): the configured one, else its host.
    pub fn server_name(&self, endpoint: &str) -> Option<ServerName<'static>> {
        if let Some(sni) = &self.sni {
            return Some(sni.clone());
        }
        let host = endpoint.rsplit_once(':').map_or(endpoint, |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(host.to_owned()).ok()
    }

    /// The handshake; the caller bounds it with the connect timeout. Fails if the origin
    /// did not agree to our ALPN protocol, since we would otherwise speak the wrong one.
    pub async fn handshake(&self, name: ServerName<'static>, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        let stream = self.connector.connect(name, tcp).await?;
        if stream.get_ref().1.alpn_protocol() != Some(self.alpn) && self.alpn == ALPN_H2 {
            return Err(std::io::Error::other("the origin did not agree to HTTP/2 (ALPN h2)"));
        }
        Ok(stream)
    }
}
