//! The certificate both proxies present: self-signed, ECDSA P-256 (what most sites and
//! CDNs serve today, and the cheaper signature for the handshake), for `localhost` and
//! `127.0.0.1`. Made with the openssl CLI so xtask needs no crypto crate.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Certificate {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// For the report.
    pub kind: &'static str,
}

pub fn generate(dir: &Path) -> Result<Certificate, String> {
    let openssl = crate::harness::process::find_program("openssl")
        .ok_or("openssl not found on PATH: it makes the bench's certificate (apt-get install -y openssl)")?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let output = Command::new(&openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", openssl.display()))?;
    if !output.status.success() {
        return Err(format!("openssl req failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(Certificate { cert, key, kind: "ECDSA P-256, self-signed" })
}
