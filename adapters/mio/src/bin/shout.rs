//! The `shout` binary: parses the command line and hands over to the
//! library. Wiring only.

use clap::Parser;
use shout_mio::cli::{Cli, Command, LogFormat};
use shout_mio::server::ServeError;

fn main() {
    let cli = Cli::parse();
    let json = matches!(&cli.command, Command::Serve(a) if a.log_format == LogFormat::Json);
    init_logs(cli.verbose, json);
    let status = match cli.command {
        Command::Serve(args) => match args.options() {
            Ok(options) => match shout_mio::server::serve(&options) {
                Ok(()) => 0,
                Err(ServeError::Interrupted(signal)) => {
                    eprintln!("shout: second signal, exiting now");
                    128 + signal
                }
                Err(e) => {
                    eprintln!("shout: {e}");
                    1
                }
            },
            Err(msg) => usage_error(&msg),
        },
        Command::Send(args) => match shout_mio::client::run(&args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("shout: error: {e}");
                e.exit_status()
            }
        },
    };
    std::process::exit(status);
}

/// A value the parser accepted but the program cannot use: reported the
/// way the parser reports one, with status 2.
fn usage_error(msg: &str) -> i32 {
    use clap::CommandFactory;
    Cli::command()
        .error(clap::error::ErrorKind::ValueValidation, msg)
        .exit()
}

/// Logs go to stderr; by default only warnings, so that `listening on`
/// stands alone. JSON logs start at info, where each connection's opening
/// and closing are.
fn init_logs(verbose: u8, json: bool) {
    let level = match (verbose, json) {
        (0, false) => "warn",
        (0, true) | (1, _) => "info",
        (2, _) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().with_current_span(false).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .init();
    }
}
