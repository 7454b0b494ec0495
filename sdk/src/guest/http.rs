//! The component-side request and response: the generated resource handles, with header
//! reads answered from the call's prefetched values and header edits buffered (see
//! `scope`).

use portcullis_abi::{Edit, EditsWriter};

use super::bindings::portcullis::gateway::http as wit;
use super::scope::{self, Target};

#[repr(transparent)]
pub struct Request(pub(crate) wit::Request);

#[repr(transparent)]
pub struct Response(pub(crate) wit::Response);

/// The generated header methods both resources share.
trait Fields {
    const TARGET: Target;
    fn get(&self, name: &str) -> Option<Vec<u8>>;
    fn get_all(&self, name: &str) -> Vec<Vec<u8>>;
    fn names(&self) -> Vec<String>;
    fn apply(&self, edits: &[u8]);
}

macro_rules! fields {
    ($ty:ty, $target:expr) => {
        impl Fields for $ty {
            const TARGET: Target = $target;
            fn get(&self, name: &str) -> Option<Vec<u8>> {
                self.header(name)
            }
            fn get_all(&self, name: &str) -> Vec<Vec<u8>> {
                self.header_all(name)
            }
            fn names(&self) -> Vec<String> {
                self.header_names()
            }
            fn apply(&self, edits: &[u8]) {
                self.apply_edits(edits)
            }
        }
    };
}

fields!(wit::Request, Target::Request);
fields!(wit::Response, Target::Response);

fn flush<F: Fields>(fields: &F) {
    let pending = scope::take_pending(F::TARGET);
    if !pending.is_empty() {
        fields.apply(&pending);
    }
}

fn header<F: Fields>(fields: &F, name: &str) -> Option<Vec<u8>> {
    if let Some(value) = scope::cached(F::TARGET, name) {
        return value;
    }
    flush(fields);
    fields.get(name)
}

fn header_all<F: Fields>(fields: &F, name: &str) -> Vec<Vec<u8>> {
    flush(fields);
    fields.get_all(name)
}

fn edit<F: Fields>(fields: &F, edit: Edit<'_>) {
    if !scope::buffer(F::TARGET, edit) {
        let mut one = Vec::new();
        EditsWriter(&mut one).push(edit);
        fields.apply(&one);
    }
}

fn header_names<F: Fields>(fields: &F) -> Vec<String> {
    flush(fields);
    fields.names()
}

/// The header methods both resources share, over the generic helpers above.
macro_rules! header_methods {
    () => {
        pub fn header(&self, name: &str) -> Option<Vec<u8>> {
            header(&self.0, name)
        }
        pub fn header_all(&self, name: &str) -> Vec<Vec<u8>> {
            header_all(&self.0, name)
        }
        pub fn set_header(&self, name: &str, value: &[u8]) {
            edit(&self.0, Edit::Set(name.as_bytes(), value))
        }
        pub fn append_header(&self, name: &str, value: &[u8]) {
            edit(&self.0, Edit::Append(name.as_bytes(), value))
        }
        pub fn remove_header(&self, name: &str) {
            edit(&self.0, Edit::Remove(name.as_bytes()))
        }
        pub fn header_names(&self) -> Vec<String> {
            header_names(&self.0)
        }
    };
}

impl Request {
    pub fn method(&self) -> String {
        self.0.method()
    }
    pub fn path_and_query(&self) -> String {
        self.0.path_and_query()
    }
    pub fn set_path_and_query(&self, value: &str) {
        self.0.set_path_and_query(value)
    }
    pub fn authority(&self) -> Option<String> {
        self.0.authority()
    }
    pub fn client_ip(&self) -> String {
        self.0.client_ip()
    }
    header_methods!();
}

impl Response {
    pub fn status(&self) -> u16 {
        self.0.status()
    }
    pub fn set_status(&self, status: u16) {
        self.0.set_status(status)
    }
    header_methods!();
}
