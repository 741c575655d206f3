//! The `skiff` binary; see `skiff --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // What the components log (reconcile failures, the proxy's sync errors) goes to stderr:
    // warnings by default, more with SKIFF_LOG=info or debug (tracing's filter syntax).
    let filter = tracing_subscriber::EnvFilter::try_from_env("SKIFF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut stdout = std::io::stdout();
    match skiff::cli::run(std::env::args_os(), &mut stdout) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => match e.downcast_ref::<clap::Error>() {
            Some(clap_err) => {
                let _ = clap_err.print();
                ExitCode::from(u8::try_from(clap_err.exit_code()).unwrap_or(2))
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}
