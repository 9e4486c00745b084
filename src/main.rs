//! The `hookgate` binary: parse the command line, load the config, run. Exit codes: 0 success,
//! 1 invalid config or usage, 2 runtime failure (cannot bind, cannot serve).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use hookgate::access_log::{AccessLog, Style};
use hookgate::app::App;
use hookgate::cli::{self, Cli, Command};
use hookgate::clock::Clock;
use hookgate::config::{Config, LogFormat};
use hookgate::gateway::Gateway;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.as_ref().unwrap_or(&Command::Serve) {
        Command::Serve => serve(&cli),
        Command::Check => match cli::load(&cli.config) {
            Ok(config) => {
                print!("{}", cli::summary(&config, &cli.config));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
        Command::Probe(args) => match cli::probe(args) {
            Ok(body) => {
                print!("{body}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::from(1)
            }
        },
        Command::Sign(args) => match cli::load(&cli.config).and_then(|c| cli::sign(&c, args)) {
            Ok(lines) => {
                print!("{lines}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::from(1)
            }
        },
        Command::Queue(args) => {
            match cli::load(&cli.config).and_then(|c| cli::queue::run(&c, args)) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn serve(cli: &Cli) -> ExitCode {
    let config = match cli::load(&cli.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let access_style = init_logging(&config);
    let runtime = match runtime_builder().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let access_log = if tracing::enabled!(target: "hookgate::access", tracing::Level::INFO) {
            AccessLog::stderr(access_style).unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot start the request log writer; requests are not logged");
                AccessLog::disabled()
            })
        } else {
            AccessLog::disabled()
        };
        let app = match App::bind(config, Clock::System, access_log).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return ExitCode::from(2);
            }
        };
        let reloads = tokio::spawn(reload_on_hangup(Arc::clone(&app.gateway), cli.config.clone()));
        let result = app.run(shutdown_signal()).await;
        reloads.abort();
        match result {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                ExitCode::from(2)
            }
        }
    })
}

/// The scheduler for the worker count (`TOKIO_WORKER_THREADS`, else the CPUs this process may
/// use): with one worker, a current-thread runtime, which runs every task on the thread that
/// accepts and spends nothing on handing tasks between threads.
fn runtime_builder() -> tokio::runtime::Builder {
    let workers = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

/// Reloads the config on every SIGHUP. A config that fails to load is logged and refused;
/// the last good one keeps serving.
async fn reload_on_hangup(gateway: Arc<Gateway>, path: PathBuf) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot watch SIGHUP; reload needs a restart");
            return;
        };
        while hangups.recv().await.is_some() {
            let outcome = cli::load(&path)
                .map_err(|e| format!("{e:#}"))
                .and_then(|config| gateway.reload(config).map_err(|e| e.to_string()));
            match outcome {
                Ok(()) => {
                    let active = gateway.active();
                    tracing::info!(
                        config = %path.display(),
                        routes = active.config.routes.iter().count(),
                        "config reloaded"
                    );
                }
                Err(e) => {
                    gateway.metrics().reload_refused();
                    tracing::error!(config = %path.display(), error = %e, "config reload refused; the last good config keeps serving");
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (gateway, path);
    }
}

/// Installs the log subscriber; returns the style request lines should match.
fn init_logging(config: &Config) -> Style {
    let filter = EnvFilter::try_from_env("HOOKGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.log_format {
        Some(LogFormat::Json) => true,
        Some(LogFormat::Text) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
        Style::Json
    } else {
        builder.init();
        Style::Text
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
