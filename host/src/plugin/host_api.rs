//! What a guest can call: the request/response resources and the `host` interface.
//!
//! The request and response are *moved* into the store's [`CallState`] for the duration of
//! one phase call and moved back afterwards (see `instance::call`), so every method here
//! works on the gateway's own head in place. Guests get a borrowed handle whose
//! representation is ignored: there is only ever one request and one response per call.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use portcullis_abi::rules::{self, MAX_FIELDS, MAX_VALUE_BYTES};
use portcullis_abi::Edit;
use wasmtime::component::Resource;
use wasmtime::{bail, Result};

use super::bindings::portcullis::gateway::{host, http, types};
use super::counters::Counters;
use super::vars::Vars;
use crate::http1::{Headers, RequestHead, ResponseHead};

/// The type behind `borrow<request>` handles. Carries nothing: the request lives in
/// [`CallState::req`].
pub struct RequestHandle;
/// The type behind `borrow<response>` handles; the response lives in [`CallState::resp`].
pub struct ResponseHandle;

/// A store's data: the plugin's identity, and what one call may touch.
pub(crate) struct CallState {
    pub plugin: Arc<str>,
    pub route: Arc<str>,
    pub req: Option<RequestHead>,
    pub client_ip: Bytes,
    pub resp: Option<ResponseHead>,
    pub vars: Vars,
    pub counters: Arc<Counters>,
    pub limits: wasmtime::StoreLimits,
    /// The state of a cooperative call; `None` in a blocking call.
    pub cooperation: Option<super::cooperation::Cooperation>,
}

impl CallState {
    fn req(&mut self) -> Result<&mut RequestHead> {
        match self.req.as_mut() {
            Some(req) => Ok(req),
            None => bail!("no request in this phase"),
        }
    }

    fn resp(&mut self) -> Result<&mut ResponseHead> {
        match self.resp.as_mut() {
            Some(resp) => Ok(resp),
            None => bail!("no response in this phase"),
        }
    }
}

/// Packed edits larger than this are copied out field by field rather than sliced, so a
/// huge edit list cannot stay alive through a few small fields.
const SLICE_EDITS_BELOW: usize = 16 * 1024;
/// A plugin's `set-path-and-query` may not make the request line unbounded.
const MAX_TARGET_BYTES: usize = 16 * 1024;

/// The name as text once it is known to be a token a plugin may touch.
fn checked_name<'a>(name: &'a [u8], op: &str) -> Result<&'a str> {
    let text = match std::str::from_utf8(name) {
        Ok(text) if rules::valid_name(name) => text,
        _ => bail!("{op}: invalid header name {:?}", String::from_utf8_lossy(name)),
    };
    if rules::gateway_owned(name) {
        bail!("{op}({text:?}): framing and connection headers belong to the gateway");
    }
    Ok(text)
}

fn checked_value(name: &str, value: &[u8], op: &str) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        bail!("{op}({name:?}): value of {} bytes exceeds {MAX_VALUE_BYTES}", value.len());
    }
    if !rules::valid_value(value) {
        bail!("{op}({name:?}): value contains a control character (CR, LF, NUL, …)");
    }
    Ok(())
}

/// A new Host must be one the parser would have accepted, and `RequestHead::host` (what
/// routing and `authority` see) follows it.
fn set_host(req: &mut RequestHead, value: &[u8], slice: &impl Fn(&[u8]) -> Bytes) -> Result<()> {
    match crate::http1::request::host_of(value) {
        Ok(host) => {
            req.host = Some(host);
            req.headers.replace(Bytes::from_static(b"Host"), slice(value));
            Ok(())
        }
        Err(_) => bail!("set-header(\"host\"): {:?} is not a valid host", String::from_utf8_lossy(value)),
    }
}

// === header methods shared by request and response ===

fn header(fields: &Headers, name: &str) -> Option<Vec<u8>> {
    fields.get(name).map(|v| v.to_vec())
}

fn header_all(fields: &Headers, name: &str) -> Vec<Vec<u8>> {
    fields.get_all(name).map(|v| v.to_vec()).collect()
}

/// The message an edit applies to; a request keeps exactly one valid Host.
pub(crate) enum Target<'a> {
    Request(&'a mut RequestHead),
    Response(&'a mut Headers),
}

impl Target<'_> {
    fn fields(&mut self) -> &mut Headers {
        match self {
            Target::Request(req) => &mut req.headers,
            Target::Response(fields) => fields,
        }
    }
}

/// Applies one edit under the rules every setter shares. `slice` turns a name or value
/// into `Bytes`: a slice of one shared buffer for packed edits, a copy otherwise.
fn apply_one(target: &mut Target<'_>, edit: Edit<'_>, slice: &impl Fn(&[u8]) -> Bytes) -> Result<()> {
    let is_host = |text: &str| matches!(target, Target::Request(_)) && text.eq_ignore_ascii_case("host");
    match edit {
        Edit::Set(name, value) => {
            let text = checked_name(name, "set-header")?;
            checked_value(text, value, "set-header")?;
            if is_host(text) {
                if let Target::Request(req) = target {
                    return set_host(req, value, slice);
                }
            }
            target.fields().replace(slice(name), slice(value));
        }
        Edit::Append(name, value) => {
            let text = checked_name(name, "append-header")?;
            checked_value(text, value, "append-header")?;
            if is_host(text) {
                bail!("append-header(\"host\"): a request has one Host; set it instead");
            }
            if target.fields().len() >= MAX_FIELDS {
                bail!("append-header({text:?}): the head would exceed {MAX_FIELDS} fields");
            }
            target.fields().append(slice(name), slice(value));
        }
        Edit::Remove(name) => {
            let text = checked_name(name, "remove-header")?;
            if is_host(text) {
                bail!("remove-header(\"host\"): the origin needs a Host; set it instead");
            }
            target.fields().remove(text);
        }
    }
    Ok(())
}

fn header_names(fields: &Headers) -> Vec<String> {
    fields.iter().map(|h| String::from_utf8_lossy(&h.name).into_owned()).collect()
}

/// Applies packed edits (`portcullis-abi`) in order, under the rules of the single setters.
/// Names and values become slices of the one buffer the guest sent: no copy per field.
pub(crate) fn apply_edits(mut target: Target<'_>, edits: Vec<u8>) -> Result<()> {
    if edits.is_empty() {
        return Ok(());
    }
    let large = edits.len() >= SLICE_EDITS_BELOW;
    let shared = Bytes::from(edits);
    let base = shared.as_ptr() as usize;
    let slice = |part: &[u8]| {
        if large {
            return Bytes::copy_from_slice(part);
        }
        // `part` was cut from `shared` by the decoder, so the offset is in range.
        let start = part.as_ptr() as usize - base;
        shared.slice(start..start + part.len())
    };
    for edit in portcullis_abi::edits(&shared) {
        let Ok(edit) = edit else { bail!("apply-edits: malformed edit list") };
        apply_one(&mut target, edit, &slice)?;
    }
    Ok(())
}

fn apply_single(mut target: Target<'_>, edit: Edit<'_>) -> Result<()> {
    apply_one(&mut target, edit, &Bytes::copy_from_slice)
}

// === impl http ===

impl http::Host for CallState {}

impl http::HostRequest for CallState {
    fn method(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.req()?.method).into_owned())
    }

    fn path_and_query(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.req()?.target).into_owned())
    }

    fn set_path_and_query(&mut self, _: Resource<RequestHandle>, value: String) -> Result<()> {
        let valid = value.starts_with('/') && !value.bytes().any(|b| b <= b' ' || b == 0x7f);
        if !valid || value.len() > MAX_TARGET_BYTES {
            bail!("set-path-and-query: {value:?} is not an origin-form target (`/path?query`, no spaces)");
        }
        self.req()?.target = Bytes::from(value);
        Ok(())
    }

    fn authority(&mut self, _: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.req()?.host.clone())
    }

    fn client_ip(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.client_ip).into_owned())
    }

    fn header(&mut self, _: Resource<RequestHandle>, name: String) -> Result<Option<Vec<u8>>> {
        Ok(header(&self.req()?.headers, &name))
    }

    fn header_all(&mut self, _: Resource<RequestHandle>, name: String) -> Result<Vec<Vec<u8>>> {
        Ok(header_all(&self.req()?.headers, &name))
    }

    fn set_header(&mut self, _: Resource<RequestHandle>, name: String, value: Vec<u8>) -> Result<()> {
        apply_single(Target::Request(self.req()?), Edit::Set(name.as_bytes(), &value))
    }

    fn append_header(&mut self, _: Resource<RequestHandle>, name: String, value: Vec<u8>) -> Result<()> {
        apply_single(Target::Request(self.req()?), Edit::Append(name.as_bytes(), &value))
    }

    fn remove_header(&mut self, _: Resource<RequestHandle>, name: String) -> Result<()> {
        apply_single(Target::Request(self.req()?), Edit::Remove(name.as_bytes()))
    }

    fn apply_edits(&mut self, _: Resource<RequestHandle>, edits: Vec<u8>) -> Result<()> {
        apply_edits(Target::Request(self.req()?), edits)
    }

    fn header_names(&mut self, _: Resource<RequestHandle>) -> Result<Vec<String>> {
        Ok(header_names(&self.req()?.headers))
    }

    fn drop(&mut self, _: Resource<RequestHandle>) -> Result<()> {
        // Guests only ever borrow the request; nothing to release.
        Ok(())
    }
}

impl http::HostResponse for CallState {
    fn status(&mut self, _: Resource<ResponseHandle>) -> Result<u16> {
        Ok(self.resp()?.status)
    }

    fn set_status(&mut self, _: Resource<ResponseHandle>, status: u16) -> Result<()> {
        // The body was framed by the origin's status, so the change must not alter whether
        // there is one: a bodiless 204/304 stays as it is, and nothing becomes one (or a 1xx).
        let resp = self.resp()?;
        if resp.status == 204 || resp.status == 304 {
            bail!("set-status({status}): a {} response has no body and keeps its status", resp.status);
        }
        if !(200..=999).contains(&status) || status == 204 || status == 304 {
            bail!("set-status({status}): must be 200..=999 and not 204 or 304");
        }
        resp.status = status;
        resp.reason = Bytes::from_static(crate::http1::response::canonical_reason(status).as_bytes());
        Ok(())
    }

    fn header(&mut self, _: Resource<ResponseHandle>, name: String) -> Result<Option<Vec<u8>>> {
        Ok(header(&self.resp()?.headers, &name))
    }

    fn header_all(&mut self, _: Resource<ResponseHandle>, name: String) -> Result<Vec<Vec<u8>>> {
        Ok(header_all(&self.resp()?.headers, &name))
    }

    fn set_header(&mut self, _: Resource<ResponseHandle>, name: String, value: Vec<u8>) -> Result<()> {
        apply_single(Target::Response(&mut self.resp()?.headers), Edit::Set(name.as_bytes(), &value))
    }

    fn append_header(&mut self, _: Resource<ResponseHandle>, name: String, value: Vec<u8>) -> Result<()> {
        apply_single(Target::Response(&mut self.resp()?.headers), Edit::Append(name.as_bytes(), &value))
    }

    fn remove_header(&mut self, _: Resource<ResponseHandle>, name: String) -> Result<()> {
        apply_single(Target::Response(&mut self.resp()?.headers), Edit::Remove(name.as_bytes()))
    }

    fn header_names(&mut self, _: Resource<ResponseHandle>) -> Result<Vec<String>> {
        Ok(header_names(&self.resp()?.headers))
    }

    fn apply_edits(&mut self, _: Resource<ResponseHandle>, edits: Vec<u8>) -> Result<()> {
        apply_edits(Target::Response(&mut self.resp()?.headers), edits)
    }

    fn drop(&mut self, _: Resource<ResponseHandle>) -> Result<()> {
        Ok(())
    }
}

// === impl host ===

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: types::Level, message: String) -> Result<()> {
        let (plugin, route) = (&*self.plugin, &*self.route);
        match level {
            types::Level::Trace => tracing::trace!(plugin, route, "{message}"),
            types::Level::Debug => tracing::debug!(plugin, route, "{message}"),
            types::Level::Info => tracing::info!(plugin, route, "{message}"),
            types::Level::Warn => tracing::warn!(plugin, route, "{message}"),
            types::Level::Error => tracing::error!(plugin, route, "{message}"),
        }
        Ok(())
    }

    fn var_get(&mut self, key: String) -> Result<Option<String>> {
        Ok(self.vars.get(&key).map(str::to_owned))
    }

    fn var_set(&mut self, key: String, value: String) -> Result<()> {
        self.vars.set(key, value)
    }

    fn counter_add(&mut self, key: String, delta: i64, window_ms: u32) -> Result<i64> {
        self.counters.add(key, delta, window_ms, now_ms())
    }

    fn now_ms(&mut self) -> Result<u64> {
        Ok(now_ms())
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
