//! The state of the phase call in progress: the prefetched header values of the config's
//! interest, and header edits buffered until the call returns. Both exist to save calls
//! into the host, each of which costs far more than the work a plugin usually does.
//!
//! Reads stay exact: a read the buffer cannot answer (a field with a buffered edit, every
//! value, the names) sends the buffered edits first, in one `apply-edits` call.

use std::cell::RefCell;

use super::bindings::portcullis::gateway::types::{Field, HeaderEdit};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Request,
    Response,
}

#[derive(Default)]
struct Scope {
    /// Whose interest was prefetched; `None` outside a phase.
    prefetched: Option<Target>,
    /// Whose edits are buffered; `None` when the phase returns no edits (select-upstream)
    /// and outside a phase: edits then go straight to the host.
    buffered: Option<Target>,
    names: &'static [String],
    values: Vec<Option<Vec<u8>>>,
    edits: Vec<HeaderEdit>,
}

thread_local! {
    // Components are single-threaded: one phase call at a time.
    static SCOPE: RefCell<Scope> = RefCell::new(Scope::default());
}

pub(crate) fn begin(
    prefetched: Target,
    buffered: Option<Target>,
    names: &'static [String],
    values: Vec<Option<Vec<u8>>>,
) {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        scope.prefetched = Some(prefetched);
        scope.buffered = buffered;
        scope.names = names;
        scope.values = values;
        scope.edits.clear();
    })
}

/// Ends the call and hands over the edits still buffered.
pub(crate) fn end() -> Vec<HeaderEdit> {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        scope.prefetched = None;
        scope.buffered = None;
        scope.names = &[];
        scope.values.clear();
        std::mem::take(&mut scope.edits)
    })
}

fn edit_touches(edit: &HeaderEdit, name: &str) -> bool {
    match edit {
        HeaderEdit::Set(field) | HeaderEdit::Append(field) => field.name.eq_ignore_ascii_case(name),
        HeaderEdit::Remove(removed) => removed.eq_ignore_ascii_case(name),
    }
}

/// `Some(value)` when `name` of `target` was prefetched and has not been edited since.
pub(crate) fn cached(target: Target, name: &str) -> Option<Option<Vec<u8>>> {
    SCOPE.with(|scope| {
        let scope = scope.borrow();
        if scope.prefetched != Some(target) || scope.edits.iter().any(|e| edit_touches(e, name)) {
            return None;
        }
        let index = scope.names.iter().position(|n| n.eq_ignore_ascii_case(name))?;
        scope.values.get(index).cloned()
    })
}

/// Buffers an edit of `target`; gives it back when that message is not the call's (the
/// caller then sends it to the host at once).
pub(crate) fn buffer(target: Target, edit: HeaderEdit) -> Option<HeaderEdit> {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        if scope.buffered != Some(target) {
            return Some(edit);
        }
        scope.edits.push(edit);
        None
    })
}

/// The buffered edits of `target`, to send before a read the buffer cannot answer.
pub(crate) fn take_pending(target: Target) -> Vec<HeaderEdit> {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        if scope.buffered != Some(target) {
            return Vec::new();
        }
        std::mem::take(&mut scope.edits)
    })
}

pub(crate) fn set(name: &str, value: &[u8]) -> HeaderEdit {
    HeaderEdit::Set(Field { name: name.to_owned(), value: value.to_vec() })
}

pub(crate) fn append(name: &str, value: &[u8]) -> HeaderEdit {
    HeaderEdit::Append(Field { name: name.to_owned(), value: value.to_vec() })
}

pub(crate) fn remove(name: &str) -> HeaderEdit {
    HeaderEdit::Remove(name.to_owned())
}
