//! `sandbox-server`: the command line. `serve` runs the playground; `lesson
//! check` and `lesson test` are for lesson authors.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use protocol::lesson_test::TestReport;
use sandbox_server::config::Config;
use sandbox_server::lesson_test::{self, TestOptions};
use sandbox_server::lessons::loader;

#[derive(Parser)]
#[command(
    name = "sandbox-server",
    version,
    about = "Self-hosted, lesson-driven container playground: learner sessions as Docker containers with live terminals.",
    after_help = "Configuration: defaults, then the TOML file (--config), then PLAYGROUND_<KEY> environment \
variables, then flags. `sandbox-server config` prints every key with its effective value; docs/configuration.md explains each."
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
    /// Tools for lesson authors: validate lessons, run them for real.
    #[command(subcommand)]
    Lesson(LessonCommand),
    /// Operator commands against a running server, with the admin token of its
    /// `admin_token_file` (made at its first start).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Remove every container, network and volume of a server instance from Docker
    /// (its sessions end; run it while that server is stopped).
    Purge {
        /// The instance label to purge [default: the configured `instance`].
        #[arg(long)]
        instance: Option<String>,
    },
}

#[derive(Subcommand)]
enum LessonCommand {
    /// Validate lessons; print every problem as `file:line: message`; exit 1 on any error.
    /// Each DIR is a lesson or a directory of lessons (default: `lessons_dirs` of the config).
    Check {
        dirs: Vec<PathBuf>,
        /// Instead of every problem, one line per lesson: loaded or not, its
        /// errors and warnings (an import report for a directory of published labs).
        #[arg(long)]
        summary: bool,
    },
    /// Build the graders of lessons: every grader crate (`<lesson>/graders/NAME/`) under
    /// each DIR is compiled by cargo for wasm32-wasip2 into `graders/NAME/grader.wasm`,
    /// then verified as the server loads it. DIR defaults to `lessons_dirs` of the config.
    Build {
        dirs: Vec<PathBuf>,
        /// The `playground-grader` guest crate [default: graders/guest of this source tree].
        #[arg(long, env = "PLAYGROUND_GRADER_SDK")]
        sdk: Option<PathBuf>,
        /// Cargo's target directory, shared by all graders [default: <data_dir>/grader-build].
        #[arg(long)]
        target_dir: Option<PathBuf>,
    },
    /// Run a lesson in a real session: each step's blocks typed into their nodes'
    /// terminals as the Run button types them, then its check; a table of every
    /// block and check. Exit 1 if a step fails. DIR is a lesson or a directory of
    /// lessons (all are run).
    Test {
        dir: PathBuf,
        /// Only the lesson with this id.
        #[arg(long)]
        only: Option<String>,
        /// Seconds a block whose node's next block is an `interrupt` one runs before
        /// the test goes on (that block's Ctrl-C stops it).
        #[arg(long, default_value_t = 3)]
        interrupt_after: u64,
        /// Seconds any other block may take to give the prompt back (then Ctrl-C, failed).
        #[arg(long, default_value_t = 300)]
        block_timeout: u64,
        /// Also run each check before the solution and require it to fail.
        #[arg(long)]
        check_fails_first: bool,
        /// Print the report as JSON on stdout (the table goes to stderr);
        /// its shape is `protocol::lesson_test::TestReport`, see docs/lessons.md.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// List every live session: id, lesson, learner and workshop, client, steps passed,
    /// expiry, last activity.
    Sessions {
        #[command(flatten)]
        server: ServerArgs,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End a live session: its containers are removed, its learner is told.
    End {
        /// The session's id (from `admin sessions`).
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Which running server an admin command talks to.
#[derive(clap::Args)]
struct ServerArgs {
    /// The server's URL [default: http:// and the configured `listen`].
    #[arg(long)]
    url: Option<String>,
    /// File with the admin token [default: the configured `admin_token_file`].
    #[arg(long)]
    token_file: Option<PathBuf>,
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Address to listen on [config: listen].
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Address the previews of learners' web servers are served on, an origin of
    /// their own [config: preview_listen].
    #[arg(long)]
    preview_listen: Option<std::net::SocketAddr>,
    /// Directory for the session database [config: data_dir].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Directory with the built web app [config: static_dir].
    #[arg(long)]
    static_dir: Option<PathBuf>,
    /// A lessons directory, served besides `lessons_dirs` (default `lessons/`); repeat for more.
    #[arg(long = "lessons")]
    lessons: Vec<PathBuf>,
}

impl ServeArgs {
    fn apply(self, config: &mut Config) {
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(listen) = self.preview_listen {
            config.preview_listen = listen;
        }
        if let Some(dir) = self.data_dir {
            config.data_dir = dir;
        }
        if let Some(dir) = self.static_dir {
            config.static_dir = (!dir.as_os_str().is_empty()).then_some(dir);
        }
        for dir in self.lessons {
            if !config.lessons_dirs.contains(&dir) {
                config.lessons_dirs.push(dir);
            }
        }
    }
}

fn load_config(file: Option<&std::path::Path>, args: ServeArgs) -> anyhow::Result<Config> {
    // Flags are applied before the values are checked together (`listen` and
    // `preview_listen`), so a flag can fix what the file or environment clash on.
    Ok(Config::load_with(file, std::env::vars(), |c| {
        args.apply(c)
    })?)
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
        Command::Lesson(LessonCommand::Check { dirs, summary }) => {
            lesson_check(cli.config.as_deref(), dirs, summary)
        }
        Command::Lesson(LessonCommand::Build {
            dirs,
            sdk,
            target_dir,
        }) => lesson_build(cli.config.as_deref(), dirs, sdk, target_dir),
        Command::Lesson(LessonCommand::Test {
            dir,
            only,
            interrupt_after,
            block_timeout,
            check_fails_first,
            json,
        }) => lesson_test(
            cli.config.as_deref(),
            dir,
            only,
            TestOptions {
                interrupt_after: std::time::Duration::from_secs(interrupt_after),
                block_timeout_secs: block_timeout,
                check_fails_first,
            },
            json,
        ),
        Command::Purge { instance } => purge(cli.config.as_deref(), instance),
        Command::Admin(command) => admin(cli.config.as_deref(), command),
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

/// How often the server looks for edited lesson files.
const LESSON_POLL: std::time::Duration = std::time::Duration::from_secs(2);

fn serve(file: Option<&std::path::Path>, args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(file, args)?;
    for var in Config::unknown_env(std::env::vars()) {
        tracing::warn!(
            "{var} is set but is no configuration key (ignored; see `sandbox-server config`)"
        );
    }
    cache_graders(&config);
    let (catalog, fingerprint) = loader::load_catalog(&config.lessons_dirs);
    let catalog = Arc::new(catalog);
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(async {
            let watcher = tokio::spawn(loader::watch(
                config.lessons_dirs.clone(),
                catalog.clone(),
                LESSON_POLL,
                fingerprint,
            ));
            let result = sandbox_server::app::serve(config, catalog).await;
            watcher.abort();
            result
        })
}

/// Compiled graders are kept under the configured cache directory.
fn cache_graders(config: &Config) {
    let dir = config.grader_cache_dir();
    if let Err(e) = sandbox_server::graders::GraderEngine::global().set_cache_dir(&dir) {
        tracing::warn!(
            "graders are compiled at every load: cannot use {}: {e}",
            dir.display()
        );
    }
}

fn lesson_build(
    file: Option<&std::path::Path>,
    dirs: Vec<PathBuf>,
    sdk: Option<PathBuf>,
    target_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    use sandbox_server::graders::build;
    let config = load_config(file, ServeArgs::default())?;
    cache_graders(&config);
    let dirs = if dirs.is_empty() {
        config.lessons_dirs.clone()
    } else {
        dirs
    };
    let sdk = sdk.or_else(build::default_sdk).context(
        "where is the playground-grader crate? pass --sdk DIR (graders/guest of the playground's sources)",
    )?;
    let options = build::BuildOptions {
        sdk,
        target_dir: target_dir.unwrap_or_else(|| config.data_dir.join("grader-build")),
    };
    let graders: Vec<PathBuf> = dirs.iter().flat_map(|d| build::find(d)).collect();
    let mut failed = 0;
    for dir in &graders {
        match build::build(dir, &options) {
            Ok(built) => eprintln!(
                "built {} ({} KiB, {:.1} s)",
                built
                    .dir
                    .join(sandbox_server::graders::COMPONENT_FILE)
                    .display(),
                built.bytes.div_ceil(1024),
                built.millis as f64 / 1000.0
            ),
            Err(e) => {
                failed += 1;
                eprintln!("FAILED {}: {e}", dir.display());
            }
        }
    }
    let summary = format!("{} grader(s) found, {} failed", graders.len(), failed);
    if failed > 0 {
        return Err(Reported(summary).into());
    }
    eprintln!("{summary}");
    Ok(())
}

/// An error that only sets the exit code: its messages are already printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Reported(String);

fn lesson_check(
    file: Option<&std::path::Path>,
    dirs: Vec<PathBuf>,
    summary: bool,
) -> anyhow::Result<()> {
    let dirs = if dirs.is_empty() {
        load_config(file, ServeArgs::default())?.lessons_dirs
    } else {
        dirs
    };
    let report = loader::load_dirs(&dirs);
    if summary {
        print_summary(&report);
    } else {
        for d in &report.diagnostics.items {
            println!("{d}");
        }
        for lesson in &report.lessons {
            eprintln!(
                "ok {} ({} steps, {} checks, nodes {})",
                lesson.summary.id,
                lesson.steps.len(),
                lesson.steps.iter().filter(|s| s.check.is_some()).count(),
                lesson.summary.nodes.join(",")
            );
        }
    }
    let summary = format!(
        "{} lesson(s) found, {} valid; {} error(s), {} warning(s)",
        report.found,
        report.lessons.len(),
        report.diagnostics.errors(),
        report.diagnostics.warnings()
    );
    if report.diagnostics.has_errors() {
        return Err(Reported(summary).into());
    }
    eprintln!("{summary}");
    Ok(())
}

fn admin(file: Option<&std::path::Path>, command: AdminCommand) -> anyhow::Result<()> {
    use sandbox_server::admin_client::{sessions_table, AdminClient};
    let server = match &command {
        AdminCommand::Sessions { server, .. } | AdminCommand::End { server, .. } => server,
    };
    let config = load_config(file, ServeArgs::default())?;
    let url = server.url.clone().unwrap_or_else(|| {
        let mut listen = config.listen;
        if listen.ip().is_unspecified() {
            listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{listen}")
    });
    let token_file = server
        .token_file
        .clone()
        .unwrap_or_else(|| config.admin_token_path());
    let token = sandbox_server::admin_token::read_token(&token_file)
        .context("reading the admin token (run this as the server's user, or pass --token-file)")?;
    let client = AdminClient::new(&url, token)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        match command {
            AdminCommand::Sessions { json: true, .. } => {
                let sessions = client.sessions().await?;
                println!("{}", serde_json::to_string_pretty(&sessions)?);
            }
            AdminCommand::Sessions { .. } => {
                println!("{}", sessions_table(&client.sessions().await?));
            }
            AdminCommand::End { id, .. } => {
                client.end(&id).await?;
                println!("session {id} ended");
            }
        }
        anyhow::Ok(())
    })
}

/// `lesson check --summary`: one line per found lesson (`loaded` or
/// `FAILED`, its id, its errors and warnings, where it is), then how many
/// problems belong to no lesson (a missing directory, a directory that is
/// no lesson), which only the full report shows.
fn print_summary(report: &loader::LoadReport) {
    let width = report
        .outcomes
        .iter()
        .map(|o| o.id.as_deref().map_or(1, str::len))
        .max()
        .unwrap_or(0);
    for o in &report.outcomes {
        println!(
            "{:<6}  {:<width$}  {} error(s), {} warning(s)  {}",
            if o.served { "loaded" } else { "FAILED" },
            o.id.as_deref().unwrap_or("?"),
            o.errors,
            o.warnings,
            o.source.display()
        );
    }
    let (errors, warnings) = report
        .outcomes
        .iter()
        .fold((0, 0), |(e, w), o| (e + o.errors, w + o.warnings));
    let (other_errors, other_warnings) = (
        report.diagnostics.errors() - errors,
        report.diagnostics.warnings() - warnings,
    );
    if other_errors + other_warnings > 0 {
        println!(
            "outside lessons: {other_errors} error(s), {other_warnings} warning(s) (run without --summary to see them)"
        );
    }
}

fn purge(file: Option<&std::path::Path>, instance: Option<String>) -> anyhow::Result<()> {
    let config = load_config(file, ServeArgs::default())?;
    let config = sandbox_server::config::Config {
        instance: instance.unwrap_or(config.instance),
        // Purging creates no node: no need to find out which disk limits apply.
        node_disk_mib: 0,
        dind_volume_mib: 0,
        require_disk_quota: false,
        ..config
    };
    let instance = config.instance.clone();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let removed = runtime.block_on(async {
        let backend = sandbox_server::runtime::connect(&config)
            .await
            .context("cannot reach the Docker Engine")?;
        anyhow::Ok(sandbox_server::runtime::purge(backend.as_ref()).await?)
    })?;
    println!("instance {instance}: removed {removed} session(s)");
    Ok(())
}

fn lesson_test(
    file: Option<&std::path::Path>,
    dir: PathBuf,
    only: Option<String>,
    options: TestOptions,
    json: bool,
) -> anyhow::Result<()> {
    let config = Arc::new(load_config(file, ServeArgs::default())?);
    cache_graders(&config);
    let report = loader::load_dirs(std::slice::from_ref(&dir));
    // With --json, stdout is the report's alone.
    let mut out: Box<dyn std::io::Write + Send> = if json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    for d in &report.diagnostics.items {
        writeln!(out, "{d}")?;
    }
    if report.diagnostics.has_errors() {
        anyhow::bail!(
            "fix the errors above first (sandbox-server lesson check {})",
            dir.display()
        );
    }
    let (lessons, reading): (Vec<_>, Vec<_>) = report
        .lessons
        .into_iter()
        .filter(|l| only.as_ref().is_none_or(|id| &l.summary.id == id))
        .partition(|l| !l.nodes.is_empty());
    // A lesson with no machines (a post to read only) has nothing to run.
    for lesson in &reading {
        writeln!(
            out,
            "{}: skipped, it has no machines (a lesson to read only)",
            lesson.summary.id
        )?;
    }
    if lessons.is_empty() {
        anyhow::bail!("no lesson with machines to test in {}", dir.display());
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut reports = Vec::new();
    for lesson in lessons {
        reports.push(runtime.block_on(lesson_test::run(
            config.clone(),
            lesson,
            &options,
            &mut out,
        ))?);
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.lesson.as_str())
        .collect();
    if json {
        let report = TestReport {
            passed: failed.is_empty(),
            lessons: reports.clone(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("writing the report")?
        );
    }
    if !failed.is_empty() {
        return Err(Reported(format!("failing lesson(s): {}", failed.join(", "))).into());
    }
    Ok(())
}
