//! The in-memory gateway behind `Request`, `Response` and `host` on native targets, so a
//! plugin's logic runs under plain `cargo test`. It enforces the same rules the gateway
//! does (which headers a plugin may not touch, valid names and values, status range): a
//! violation panics here where the gateway would trap.

use std::cell::RefCell;

use portcullis_abi::rules;

/// Header fields with the gateway's case-insensitive semantics.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields(pub(crate) Vec<(String, Vec<u8>)>);

impl Fields {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    fn get_all(&self, name: &str) -> Vec<Vec<u8>> {
        self.0.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).collect()
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        check_field(name, value);
        match self.0.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(first) => {
                self.0[first].1 = value.to_vec();
                let mut index = 0;
                self.0.retain(|(n, _)| {
                    index += 1;
                    index - 1 <= first || !n.eq_ignore_ascii_case(name)
                });
            }
            None => self.0.push((name.to_owned(), value.to_vec())),
        }
    }

    fn append(&mut self, name: &str, value: &[u8]) {
        check_field(name, value);
        self.0.push((name.to_owned(), value.to_vec()));
    }

    fn remove(&mut self, name: &str) {
        check_name(name);
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    fn names(&self) -> Vec<String> {
        self.0.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// The gateway's rules (`portcullis_abi::rules`), as panics where it would trap.
fn check_name(name: &str) {
    assert!(rules::valid_name(name.as_bytes()), "invalid header name {name:?} (the gateway would trap)");
    assert!(!rules::gateway_owned(name.as_bytes()), "`{name}` belongs to the gateway (it would trap)");
}

fn check_field(name: &str, value: &[u8]) {
    check_name(name);
    assert!(
        rules::valid_value(value),
        "header value of `{name}` contains a control character (the gateway would trap)"
    );
    assert!(
        value.len() <= rules::MAX_VALUE_BYTES,
        "header value of `{name}` exceeds {} bytes (the gateway would trap)",
        rules::MAX_VALUE_BYTES
    );
}

/// The header methods both messages share; a request must keep its Host.
macro_rules! header_methods {
    (keeps_host: $keeps_host:expr) => {
        pub fn header(&self, name: &str) -> Option<Vec<u8>> {
            self.headers.borrow().get(name)
        }
        pub fn header_all(&self, name: &str) -> Vec<Vec<u8>> {
            self.headers.borrow().get_all(name)
        }
        pub fn set_header(&self, name: &str, value: &[u8]) {
            self.headers.borrow_mut().set(name, value)
        }
        pub fn append_header(&self, name: &str, value: &[u8]) {
            assert!(
                !($keeps_host && name.eq_ignore_ascii_case("host")),
                "append-header(\"host\"): a request has one Host (the gateway would trap)"
            );
            self.headers.borrow_mut().append(name, value)
        }
        pub fn remove_header(&self, name: &str) {
            assert!(
                !($keeps_host && name.eq_ignore_ascii_case("host")),
                "remove-header(\"host\"): the origin needs a Host (the gateway would trap)"
            );
            self.headers.borrow_mut().remove(name)
        }
        pub fn header_names(&self) -> Vec<String> {
            self.headers.borrow().names()
        }
    };
}

#[derive(Debug)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) target: RefCell<String>,
    pub(crate) authority: Option<String>,
    pub(crate) client_ip: String,
    pub(crate) headers: RefCell<Fields>,
}

impl Request {
    pub fn method(&self) -> String {
        self.method.clone()
    }
    pub fn path_and_query(&self) -> String {
        self.target.borrow().clone()
    }
    pub fn set_path_and_query(&self, value: &str) {
        assert!(
            value.starts_with('/') && !value.bytes().any(|b| b <= b' ' || b == 0x7f),
            "invalid path-and-query {value:?} (the gateway would trap)"
        );
        *self.target.borrow_mut() = value.to_owned();
    }
    pub fn authority(&self) -> Option<String> {
        self.authority.clone()
    }
    pub fn client_ip(&self) -> String {
        self.client_ip.clone()
    }
    header_methods!(keeps_host: true);
}

#[derive(Debug)]
pub struct Response {
    pub(crate) status: RefCell<u16>,
    pub(crate) headers: RefCell<Fields>,
}

impl Response {
    pub fn status(&self) -> u16 {
        *self.status.borrow()
    }
    pub fn set_status(&self, status: u16) {
        assert!(
            (200..=999).contains(&status) && status != 204 && status != 304,
            "set-status({status}) is out of range (the gateway would trap)"
        );
        *self.status.borrow_mut() = status;
    }
    header_methods!(keeps_host: false);
}

/// The gateway's host functions, backed by a per-thread world so parallel tests do not
/// see each other's variables, counters or clock.
pub(crate) mod host {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use crate::host::Level;

    #[derive(Default)]
    pub(crate) struct World {
        pub vars: HashMap<String, String>,
        /// (key, window) → (window start, count)
        pub counters: HashMap<(String, u32), (u64, i64)>,
        pub now_ms: u64,
        pub logs: Vec<(Level, String)>,
    }

    /// The harness clock's start: 2023-11-14T22:13:20Z.
    pub(crate) const START_MS: u64 = 1_700_000_000_000;

    thread_local! {
        pub(crate) static WORLD: RefCell<World> = RefCell::new(World { now_ms: START_MS, ..World::default() });
    }

    pub fn log(level: Level, message: &str) {
        WORLD.with(|w| w.borrow_mut().logs.push((level, message.to_owned())))
    }

    pub fn var_get(key: &str) -> Option<String> {
        WORLD.with(|w| w.borrow().vars.get(key).cloned())
    }

    /// The gateway's limits on variables and counter keys (`host/src/plugin/{vars,counters}.rs`).
    const MAX_VARS: usize = 64;
    const MAX_VAR_KEY: usize = 256;
    const MAX_VAR_VALUE: usize = 8 * 1024;
    const MAX_COUNTER_KEY: usize = 512;

    pub fn var_set(key: &str, value: &str) {
        assert!(
            key.len() <= MAX_VAR_KEY && value.len() <= MAX_VAR_VALUE,
            "var-set({key:?}): key or value too long (the gateway would trap)"
        );
        WORLD.with(|w| {
            let mut w = w.borrow_mut();
            assert!(
                w.vars.len() < MAX_VARS || w.vars.contains_key(key),
                "var-set({key:?}): more than {MAX_VARS} variables (the gateway would trap)"
            );
            w.vars.insert(key.to_owned(), value.to_owned())
        });
    }

    pub fn counter_add(key: &str, delta: i64, window_ms: u32) -> i64 {
        assert!(window_ms > 0, "counter-add({key:?}): window-ms must be at least 1 (the gateway would trap)");
        assert!(
            key.len() <= MAX_COUNTER_KEY,
            "counter-add: key longer than {MAX_COUNTER_KEY} bytes (the gateway would trap)"
        );
        WORLD.with(|w| {
            let mut w = w.borrow_mut();
            let window = u64::from(window_ms);
            let start = w.now_ms - w.now_ms % window;
            let entry = w.counters.entry((key.to_owned(), window_ms)).or_insert((start, 0));
            if entry.0 != start {
                *entry = (start, 0);
            }
            entry.1 = entry.1.saturating_add(delta);
            entry.1
        })
    }

    pub fn now_ms() -> u64 {
        WORLD.with(|w| w.borrow().now_ms)
    }
}
