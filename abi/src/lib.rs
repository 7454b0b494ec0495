//! Two byte layouts that cross the sandbox in one piece instead of as lists of strings.
//!
//! Every string or list the component model moves costs a call into the guest's allocator
//! (and a free later); for the few short values a plugin touches per phase that cost is
//! larger than the work itself. So the values of a plugin's declared headers travel as one
//! `list<u8>` ([`ValuesWriter`] / [`values`]), and its header edits come back as one
//! `list<u8>` ([`EditsWriter`] / [`edits`]). Both are used by the host (`portcullis`) and
//! the SDK (`portcullis-sdk`), so the two sides cannot disagree.
//!
//! Layouts (integers little-endian):
//! - values: per declared name, `u32 len` then `len` bytes; `len = u32::MAX` means absent.
//! - edits: per edit, `u8 op` (0 set, 1 append, 2 remove), `u32 len` + name, and for set
//!   and append `u32 len` + value.

#![no_std]

extern crate alloc;

pub mod rules;

use alloc::vec::Vec;

const ABSENT: u32 = u32::MAX;

/// Appends one value (or its absence) per declared name.
pub struct ValuesWriter<'a>(pub &'a mut Vec<u8>);

impl ValuesWriter<'_> {
    pub fn push(&mut self, value: Option<&[u8]>) {
        match value {
            Some(bytes) => {
                self.0.extend_from_slice(&len(bytes).to_le_bytes());
                self.0.extend_from_slice(bytes);
            }
            None => self.0.extend_from_slice(&ABSENT.to_le_bytes()),
        }
    }
}

/// The values in declared order; stops at the first malformed entry.
pub fn values(mut buf: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    core::iter::from_fn(move || {
        let n = take_u32(&mut buf)?;
        if n == ABSENT {
            return Some(None);
        }
        take(&mut buf, n).map(Some)
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit<'a> {
    Set(&'a [u8], &'a [u8]),
    Append(&'a [u8], &'a [u8]),
    Remove(&'a [u8]),
}

impl<'a> Edit<'a> {
    pub fn name(&self) -> &'a [u8] {
        match *self {
            Edit::Set(name, _) | Edit::Append(name, _) | Edit::Remove(name) => name,
        }
    }
}

/// Appends edits in the order they are made.
pub struct EditsWriter<'a>(pub &'a mut Vec<u8>);

impl EditsWriter<'_> {
    pub fn push(&mut self, edit: Edit<'_>) {
        let (op, name, value) = match edit {
            Edit::Set(name, value) => (0, name, Some(value)),
            Edit::Append(name, value) => (1, name, Some(value)),
            Edit::Remove(name) => (2, name, None),
        };
        self.0.push(op);
        self.0.extend_from_slice(&len(name).to_le_bytes());
        self.0.extend_from_slice(name);
        if let Some(value) = value {
            self.0.extend_from_slice(&len(value).to_le_bytes());
            self.0.extend_from_slice(value);
        }
    }
}

/// A malformed edit list: the guest wrote bytes the layout does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// The edits in order, as slices of `buf` (the host turns them into slices of one shared
/// buffer instead of copying each).
pub fn edits(buf: &[u8]) -> impl Iterator<Item = Result<Edit<'_>, Malformed>> {
    let mut rest = buf;
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed || rest.is_empty() {
            return None;
        }
        let edit = next_edit(&mut rest);
        failed = edit.is_err();
        Some(edit)
    })
}

fn next_edit<'a>(buf: &mut &'a [u8]) -> Result<Edit<'a>, Malformed> {
    let (&op, rest) = buf.split_first().ok_or(Malformed)?;
    *buf = rest;
    let name = field(buf)?;
    match op {
        0 => Ok(Edit::Set(name, field(buf)?)),
        1 => Ok(Edit::Append(name, field(buf)?)),
        2 => Ok(Edit::Remove(name)),
        _ => Err(Malformed),
    }
}

fn field<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], Malformed> {
    let n = take_u32(buf).ok_or(Malformed)?;
    take(buf, n).ok_or(Malformed)
}

fn take_u32(buf: &mut &[u8]) -> Option<u32> {
    let bytes = take(buf, 4)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn take<'a>(buf: &mut &'a [u8], n: u32) -> Option<&'a [u8]> {
    let n = usize::try_from(n).ok()?;
    if buf.len() < n {
        return None;
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Some(head)
}

/// Lengths beyond 4 GiB cannot occur: the host caps heads far below.
fn len(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).unwrap_or(ABSENT - 1)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::vec;
    use portcullis_testkit::Rng;

    #[test]
    fn values_round_trip_including_absent_and_empty() {
        let mut buf = Vec::new();
        let input: [Option<&[u8]>; 4] = [Some(b"curl/8"), None, Some(b""), Some(b"text/html")];
        let mut writer = ValuesWriter(&mut buf);
        for value in input {
            writer.push(value);
        }
        assert_eq!(values(&buf).collect::<Vec<_>>(), input);
    }

    #[test]
    fn edits_round_trip() {
        let input = [Edit::Set(b"x-a", b"1"), Edit::Remove(b"x-b"), Edit::Append(b"x-c", b"")];
        let mut buf = Vec::new();
        let mut writer = EditsWriter(&mut buf);
        for edit in input {
            writer.push(edit);
        }
        let decoded: Vec<_> = edits(&buf).collect();
        assert_eq!(decoded, input.map(Ok));
    }

    #[test]
    fn any_bytes_decode_without_panicking_and_stop_at_the_first_error() {
        let mut rng = Rng(0x05ee_dab1);
        for _ in 0..20_000 {
            let len = rng.below(24);
            let buf: Vec<u8> = (0..len).map(|_| *rng.pick(&[0u8, 1, 2, 3, 4, 255, b'a'])).collect();
            let decoded: Vec<_> = edits(&buf).collect();
            if let Some(first_err) = decoded.iter().position(Result::is_err) {
                assert_eq!(first_err, decoded.len() - 1, "{buf:?}");
            }
            let _ = values(&buf).count();
        }
        assert_eq!(edits(&[7]).collect::<Vec<_>>(), vec![Err(Malformed)]);
        assert_eq!(edits(&[0, 5, 0, 0, 0, b'a']).collect::<Vec<_>>(), vec![Err(Malformed)]);
    }
}
