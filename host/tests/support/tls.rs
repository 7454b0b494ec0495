//! Certificates made in the test (a CA and leaves it signs, with rcgen), and TLS clients
//! and servers that trust that CA.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::{client, TlsAcceptor, TlsConnector};

use super::gateway::TempFile;

pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate as a PEM file, for a gateway's `tls.ca`.
    pub pem_file: TempFile,
}

/// A leaf certificate and its key, as PEM files, and the certificate's DER to compare.
pub struct Leaf {
    pub cert: TempFile,
    pub key: TempFile,
    pub der: CertificateDer<'static>,
    pub key_der: PrivateKeyDer<'static>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "portcullis test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let pem_file = TempFile::new("ca.pem", &issuer.as_ref().pem());
        TestCa { issuer, pem_file }
    }

    pub fn leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: TempFile::new("cert.pem", &cert.pem()),
            key: TempFile::new("key.pem", &key.serialize_pem()),
            der: cert.der().clone(),
            key_der: PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        }
    }

    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.as_ref().der().clone()).unwrap();
        roots
    }

    /// A client trusting this CA, offering `alpn`.
    pub fn connector(&self, alpn: &[&[u8]]) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsConnector::from(Arc::new(config))
    }

    /// Connects to `addr` with SNI `name` (None: no SNI, by connecting to an IP name).
    pub async fn connect(
        &self,
        addr: std::net::SocketAddr,
        name: &str,
        alpn: &[&[u8]],
    ) -> std::io::Result<client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from(name.to_owned()).unwrap();
        self.connector(alpn).connect(name, tcp).await
    }
}

impl Leaf {
    /// A TLS server config presenting this leaf, for test origins.
    pub fn acceptor(&self, alpn: &[&[u8]]) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.der.clone()], self.key_der.clone_key())
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}

impl Leaf {
    /// Like `acceptor`, but the client must present a certificate `ca` signed (mutual TLS).
    pub fn acceptor_requiring_clients_of(&self, ca: &TestCa, alpn: &[&[u8]]) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(ca.roots()), provider.clone())
                .build()
                .unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.der.clone()], self.key_der.clone_key())
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}

/// The certificate the server presented on `stream`.
pub fn presented(stream: &client::TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone().into_owned()
}

/// A plain TCP stream whose bytes go through `tls` (a relay task in between), so the raw
/// HTTP/1.1 `Client` can speak over TLS unchanged.
pub async fn plain_view<T>(mut tls: T) -> TcpStream
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut inner, _)) = listener.accept().await {
            let _ = tokio::io::copy_bidirectional(&mut inner, &mut tls).await;
        }
    });
    TcpStream::connect(addr).await.unwrap()
}
