//! The `portcullis` command line, run as a child process: help, `check`, and the ways
//! `run` refuses to start.
#![allow(clippy::unwrap_used)]

// cli.rs uses only the process helpers, not the re-exported in-process ones.
#[allow(unused_imports)]
mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::gateway::{binary, TempFile};

const GOOD: &str = r#"[server]
listen = ["127.0.0.1:0"]
[upstreams.app]
endpoints = ["127.0.0.1:9000"]
[[routes]]
match = { path_prefix = "/" }
upstream = "app"
"#;

/// `GOOD` with a route naming an upstream that does not exist (line 7, column 12).
const BAD: &str = r#"[server]
listen = ["127.0.0.1:0"]
[upstreams.app]
endpoints = ["127.0.0.1:9000"]
[[routes]]
match = { path_prefix = "/" }
upstream = "ap"
"#;

#[test]
fn help_lists_the_subcommands() {
    let out = finish(binary().arg("--help"));
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["run", "check", "demo"] {
        assert!(
            help.lines().any(|l| l.split_whitespace().next() == Some(command)),
            "--help does not list `{command}`:\n{help}"
        );
    }
}

#[test]
fn check_accepts_a_good_config() {
    let config = TempFile::new("good.toml", GOOD);
    let out = finish(binary().args(["check", "--config"]).arg(&config.path));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{}: ok\n", config.display()));
}

#[test]
fn check_rejects_a_bad_config_naming_file_line_and_key() {
    let config = TempFile::new("bad.toml", BAD);
    let out = finish(binary().args(["check", "--config"]).arg(&config.path));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let want = format!("{}:7:12: `routes[0].upstream`: unknown upstream `ap`", config.display());
    assert!(stderr.contains(&want), "stderr does not contain {want:?}:\n{stderr}");
}

#[test]
fn check_reports_a_missing_file() {
    let missing = std::env::temp_dir().join(format!("portcullis-test-{}-missing.toml", std::process::id()));
    let out = finish(binary().args(["check", "--config"]).arg(&missing));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("{}: cannot read config", missing.display())), "{stderr}");
}

#[test]
fn run_refuses_a_bad_config() {
    let config = TempFile::new("bad.toml", BAD);
    let out = finish(binary().args(["run", "--config"]).arg(&config.path));
    assert!(!out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let want = format!("{}:7:12: `routes[0].upstream`: unknown upstream `ap`", config.display());
    assert!(stderr.contains(&want), "stderr does not contain {want:?}:\n{stderr}");
}

#[test]
fn run_fails_naming_a_listen_address_already_in_use() {
    // A plain listener without SO_REUSEPORT: the gateway's own bind must fail against it.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let config = TempFile::new("taken.toml", &GOOD.replace("127.0.0.1:0", &addr.to_string()));
    let out = finish(binary().args(["run", "--config"]).arg(&config.path));
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "stderr does not name {addr}:\n{stderr}");
    drop(taken);
}

/// Runs `cmd` to completion with its output captured. A child still running after a
/// generous deadline (a `run` that should have failed but started serving) is killed by
/// its PID and the test fails instead of hanging.
fn finish(cmd: &mut Command) -> Output {
    struct KillOnDrop(Option<Child>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Some(child) = &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    let child = cmd
        .env("PORTCULLIS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(Some(child));
    let deadline = Instant::now() + Duration::from_secs(30);
    while guard.0.as_mut().unwrap().try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "`portcullis` did not exit within 30s");
        std::thread::sleep(Duration::from_millis(20));
    }
    guard.0.take().unwrap().wait_with_output().unwrap()
}

#[test]
fn check_loads_the_plugins_and_reports_a_rejected_config_at_the_route() {
    let dir = support::PluginDir::with(&["probe"]);
    let config = |plugin_config: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{}[upstreams.app]\nendpoints = [\"127.0.0.1:9000\"]\n\
             [[routes]]\nupstream = \"app\"\nplugins = [ {{ name = \"probe\", config = {plugin_config} }} ]\n",
            dir.server_keys()
        )
    };
    let good = TempFile::new("plugins-good.toml", &config("{ tag = \"a\" }"));
    let out = finish(binary().args(["check", "--config"]).arg(&good.path));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{}: ok (1 plugin: probe)\n", good.display()));

    let bad = TempFile::new("plugins-bad.toml", &config("{ reject = \"no thanks\" }"));
    let out = finish(binary().args(["check", "--config"]).arg(&bad.path));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "error: {}:9:40: `routes[0].plugins[0].config`: plugin `probe` rejected its config: no thanks\n",
            bad.display()
        )
    );
}
