//! The `skiff` binary; see `skiff --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
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
