//! Reading PEM files, with errors that name the config entry and the file.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConfigError, Position};

pub(super) fn certificates(path: &Path, at: &Position) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let unreadable = |err: rustls_pki_types::pem::Error| at.error(format!("cannot read {}: {err}", path.display()));
    let certs =
        CertificateDer::pem_file_iter(path).map_err(unreadable)?.collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
    if certs.is_empty() {
        return Err(at.error(format!("{} holds no PEM certificate", path.display())));
    }
    Ok(certs)
}

pub(super) fn private_key(path: &Path, at: &Position) -> Result<PrivateKeyDer<'static>, ConfigError> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| match err {
        rustls_pki_types::pem::Error::NoItemsFound => {
            at.error(format!("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", path.display()))
        }
        err => at.error(format!("cannot read {}: {err}", path.display())),
    })
}
