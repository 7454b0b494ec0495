//! Starts the real gateway in-process from a TOML snippet.

use std::net::SocketAddr;

use portcullis::{Config, Gateway};

pub struct TestGateway {
    pub gateway: Gateway,
    pub addr: SocketAddr,
}

impl TestGateway {
    /// `toml` is a full config except `[server]`, which is filled in (listen on 127.0.0.1:0)
    /// unless the snippet has its own.
    pub async fn start(toml: &str) -> TestGateway {
        let src = if toml.contains("[server]") {
            toml.to_owned()
        } else {
            format!("[server]\nlisten = [\"127.0.0.1:0\"]\n{toml}")
        };
        let config = Config::from_toml_str(&src, "test.toml").unwrap_or_else(|e| panic!("{e}\n---\n{src}"));
        let gateway = Gateway::start(config).await.unwrap();
        let addr = gateway.local_addrs()[0];
        TestGateway { gateway, addr }
    }

    /// A gateway with one route `/` to one upstream `app` at `origin`, plus `extra` TOML.
    pub async fn in_front_of(origin: SocketAddr, extra: &str) -> TestGateway {
        TestGateway::start(&format!(
            "{extra}\n[upstreams.app]\nendpoints = [\"{origin}\"]\n[[routes]]\nmatch = {{ path_prefix = \"/\" }}\nupstream = \"app\"\n"
        ))
        .await
    }

    pub async fn client(&self) -> super::Client {
        super::Client::connect(self.addr).await
    }

    /// One request on a fresh connection, `Connection: close` style.
    pub async fn get(&self, path: &str) -> super::Response {
        let mut c = self.client().await;
        c.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await;
        c.response().await
    }
}
