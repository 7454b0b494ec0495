//! The process signals the gateway acts on: SIGTERM/SIGINT (drain and stop) and SIGHUP
//! (reload).
//!
//! Each handler is installed when its value is made, not when it is first awaited: the
//! processes print "listening" lines that scripts and tests act on at once, and a signal
//! arriving before its handler exists takes the default action (SIGTERM/SIGHUP: die on the
//! spot, requests in flight lost). So every `*::install()` comes before the first line.

/// SIGTERM or SIGINT (Ctrl-C).
pub(crate) struct Shutdown {
    #[cfg(unix)]
    handlers: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Shutdown {
    pub(crate) fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let handlers = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(term), Ok(int)) => Some((term, int)),
                (Err(err), _) | (_, Err(err)) => {
                    tracing::warn!(error = %err, "cannot handle SIGTERM/SIGINT; they will stop the process without draining");
                    None
                }
            };
            Self { handlers }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGTERM or SIGINT.
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        {
            match &mut self.handlers {
                Some((term, int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                None => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// SIGHUP; never, where there is none.
pub(crate) struct Hangup {
    #[cfg(unix)]
    handler: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    pub(crate) fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let handler =
                signal(SignalKind::hangup()).inspect_err(|err| tracing::warn!(error = %err, "no SIGHUP reloads")).ok();
            Self { handler }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGHUP.
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(handler) = &mut self.handler {
            handler.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}
