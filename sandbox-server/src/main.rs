//! `sandbox-server`: the command line. `serve` runs the playground.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sandbox_server::config::Config;
use sandbox_server::lessons::Catalog;

#[derive(Parser)]
#[command(
    name = "sandbox-server",
    version,
    about = "Self-hosted, lesson-driven container playground: learner sessions as Docker containers with live terminals.",
    after_help = "Configuration: defaults, then the TOML file (--config), then PLAYGROUND_<KEY> environment \
variables, then flags. `sandbox-server config` prints every key with its value and meaning is in docs/configuration.md."
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "PLAYGROUND_CONFIG")]
    config: Option<PathBuf>,
    /// Log filter, as RUST_LOG (e.g. `info`, `sandbox_server=debug`).
    #[arg(long, global = true, default_value = "info", env = "RUST_LOG")]
    log: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the playground (the default).
    Serve(ServeArgs),
    /// Print the effective configuration as TOML.
    Config(ServeArgs),
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Address to listen on [config: listen].
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Directory for the session database [config: data_dir].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Directory with the built web app [config: static_dir].
    #[arg(long)]
    static_dir: Option<PathBuf>,
    /// A lessons directory; repeat for more. Replaces `lessons_dirs` from the config.
    #[arg(long = "lessons")]
    lessons: Vec<PathBuf>,
}

impl ServeArgs {
    fn apply(self, config: &mut Config) {
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(dir) = self.data_dir {
            config.data_dir = dir;
        }
        if let Some(dir) = self.static_dir {
            config.static_dir = Some(dir);
        }
        if !self.lessons.is_empty() {
            config.lessons_dirs = self.lessons;
        }
    }
}

fn load_config(file: Option<&std::path::Path>, args: ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(file, std::env::vars())?;
    args.apply(&mut config);
    Ok(config)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(cli.config.as_deref(), args),
        Command::Config(args) => load_config(cli.config.as_deref(), args).and_then(|c| {
            print!(
                "{}",
                toml::to_string(&c).context("printing the configuration")?
            );
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sandbox-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(file: Option<&std::path::Path>, args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(file, args)?;
    let catalog = Arc::new(Catalog::new(Vec::new()));
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(sandbox_server::app::serve(config, catalog))
}
