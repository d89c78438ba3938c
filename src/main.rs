//! The `ritplan` binary: parse the command line, run it, turn the outcome into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = ritplan::cli::main(std::env::args_os());
    ExitCode::from(code)
}
