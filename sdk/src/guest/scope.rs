//! The state of the phase call in progress: the packed values of the config's declared
//! headers, and header edits buffered until the call returns. Both exist to save calls into
//! the host, each of which costs far more than the work a plugin usually does with a header.
//!
//! Reads stay exact: a read the buffer cannot answer (a field with a buffered edit, every
//! value, the names) sends the buffered edits first, in one `apply-edits` call.

use std::cell::RefCell;

use portcullis_abi::{Edit, EditsWriter};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Request,
    Response,
}

#[derive(Default)]
struct Scope {
    /// Whose declared headers `values` holds; `None` outside a phase.
    prefetched: Option<Target>,
    /// Whose edits are buffered; `None` when the phase returns no edits (select-upstream)
    /// and outside a phase: edits then go straight to the host.
    buffered: Option<Target>,
    names: &'static [String],
    values: Vec<u8>,
    edits: Vec<u8>,
    /// Declared names edited during this call, buffered or not: their prefetched values
    /// are stale from then on, even after the edits were sent.
    edited: Vec<&'static str>,
}

thread_local! {
    // Components are single-threaded: one phase call at a time.
    static SCOPE: RefCell<Scope> = RefCell::new(Scope::default());
}

pub(crate) fn begin(prefetched: Target, buffered: Option<Target>, names: &'static [String], values: Vec<u8>) {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        scope.prefetched = Some(prefetched);
        scope.buffered = buffered;
        scope.names = names;
        scope.values = values;
        scope.edits.clear();
        scope.edited.clear();
    })
}

/// Ends the call and hands over the edits still buffered.
pub(crate) fn end() -> Vec<u8> {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        scope.prefetched = None;
        scope.buffered = None;
        scope.names = &[];
        scope.values.clear();
        std::mem::take(&mut scope.edits)
    })
}

/// `Some(value)` when `name` of `target` was prefetched and has not been edited since.
pub(crate) fn cached(target: Target, name: &str) -> Option<Option<Vec<u8>>> {
    SCOPE.with(|scope| {
        let scope = scope.borrow();
        if scope.prefetched != Some(target) {
            return None;
        }
        let index = scope.names.iter().position(|n| n.eq_ignore_ascii_case(name))?;
        if scope.edited.iter().any(|e| e.eq_ignore_ascii_case(name)) {
            return None;
        }
        let value = portcullis_abi::values(&scope.values).nth(index).map(|value| value.map(<[u8]>::to_vec));
        value
    })
}

/// Buffers an edit of `target`; `false` when that message's edits are not buffered in this
/// phase (the caller then sends it to the host at once). Either way, a declared name it
/// touches is no longer answered from the prefetch.
pub(crate) fn buffer(target: Target, edit: Edit<'_>) -> bool {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        if scope.prefetched == Some(target) {
            let names = scope.names;
            if let Some(name) = names.iter().find(|n| n.as_bytes().eq_ignore_ascii_case(edit.name())) {
                scope.edited.push(name.as_str());
            }
        }
        if scope.buffered != Some(target) {
            return false;
        }
        EditsWriter(&mut scope.edits).push(edit);
        true
    })
}

/// The buffered edits of `target`, to send before a read the buffer cannot answer.
pub(crate) fn take_pending(target: Target) -> Vec<u8> {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        if scope.buffered != Some(target) {
            return Vec::new();
        }
        std::mem::take(&mut scope.edits)
    })
}
