//! The `portcullis` command: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis::config::LogFormat;

/// portcullis: a reverse proxy whose business logic runs as sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway with a TOML config until SIGINT/SIGTERM.
    Run {
        /// Path to the TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Take over the listening sockets of the gateway serving `server.handover`, which
        /// then drains and exits (zero-downtime restart or binary upgrade).
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate a config file and exit: 0 if it is valid, 1 with the error (file:line:column: key) if not.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the gateway with the embedded example config in front of local demo origins.
    Demo {
        /// The example plugins, built (`cargo xtask demo` builds them and passes this).
        #[arg(long)]
        plugin_dir: PathBuf,
    },
    /// Run only the demo origin (echoes the request head as JSON) on ADDR.
    Origin {
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: std::net::SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `[log] format` is read before anything logs; a config that does not load is reported
    // by `run` itself, in the default format.
    let format = match &cli.command {
        Command::Run { config, .. } => portcullis::Config::load(config).map_or(LogFormat::Logfmt, |c| c.log.format),
        _ => LogFormat::Logfmt,
    };
    init_logging(format);
    let result = match cli.command {
        Command::Run { config, upgrade } => portcullis::run(&config, upgrade),
        Command::Check { config } => {
            portcullis::check(&config).map(|summary| println!("{}: ok{summary}", config.display()))
        }
        Command::Demo { plugin_dir } => portcullis::demo::run_demo(plugin_dir),
        Command::Origin { listen } => portcullis::demo::run_origin(listen),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PORTCULLIS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let logger = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Logfmt => logger.init(),
        // One object per line with the event's fields at the top level, for log shippers.
        // `span` carries the request id of lines logged while a request runs.
        LogFormat::Json => logger.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
    }
}
