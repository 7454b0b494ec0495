//! The demo origin both benches forward to: `portcullis origin`, which answers `/bytes/N`
//! with an N-byte body and anything else with the request head it received as JSON (~1 KiB,
//! `served_by` naming its address). A tokio runtime of its own, pinned with the load.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::process::{self, Guard};
use super::template::log_file;

/// Starts `portcullis origin` on a free port, its stderr in `dir/<name>.err`; returns it with
/// its port.
pub fn start(binary: &Path, dir: &Path, name: &str, cpu: Option<u32>) -> Result<(Guard, u16), String> {
    let mut command = process::pinned(binary, cpu);
    command
        .args(["origin", "--listen", "127.0.0.1:0"])
        .env("PORTCULLIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(dir, &format!("{name}.err"))?);
    let mut origin = Guard::spawn(name, command)?;
    let stdout = origin.stdout().ok_or("the origin's stdout was not captured")?;
    let addr = process::await_line(stdout, "demo origin listening on http://", Duration::from_secs(30))
        .map_err(|e| format!("{name} did not start: {e} (see {})", dir.join(format!("{name}.err")).display()))?;
    Ok((origin, process::port_of(&addr)?))
}
