//! `cargo xtask`: parses the command line and runs the command.

#![forbid(unsafe_code)]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match xtask::cli::parse(&args) {
        Ok(command) => match xtask::commands::execute(command) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("xtask: {message}");
                1
            }
        },
        Err(message) => {
            eprintln!("xtask: {message}\n\n{}", xtask::cli::USAGE);
            2
        }
    };
    std::process::exit(code);
}
