//! Setup done before every command: the pinned Rust toolchain and QEMU.

use std::process::Command;

use crate::{paths, process, qemu};

/// The Debian package that provides `qemu-system-x86_64`.
pub const QEMU_PACKAGE: &str = "qemu-system-x86";
/// The line printed for a user who is not root and has no QEMU.
pub const QEMU_INSTALL_HINT: &str = "sudo apt-get install -y qemu-system-x86";

/// Installs what the commands need; prints one line per step that changes something.
pub fn setup() -> Result<(), String> {
    rust_toolchain()?;
    qemu()
}

/// `rustup toolchain install` in the workspace root: the toolchain, components and targets of
/// rust-toolchain.toml (including `x86_64-unknown-none`).
fn rust_toolchain() -> Result<(), String> {
    if process::on_path("rustup").is_none() {
        println!("xtask: rustup not found; using the Rust toolchain on PATH as it is");
        return Ok(());
    }
    let out = process::output(
        Command::new("rustup")
            .arg("toolchain")
            .arg("install")
            .current_dir(paths::workspace_root()),
    )?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if installed_something(&text) {
        println!("xtask: installed the Rust toolchain of rust-toolchain.toml");
    }
    Ok(())
}

/// Whether rustup's output says it downloaded or installed anything.
fn installed_something(rustup_output: &str) -> bool {
    rustup_output.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.contains("downloading") || line.contains("installing component")
    })
}

/// Installs QEMU with apt-get when we are root; otherwise says how and fails.
fn qemu() -> Result<(), String> {
    if process::on_path(qemu::QEMU).is_some() {
        return Ok(());
    }
    if !process::is_root() {
        return Err(format!(
            "{} is not on PATH; install it with:\n{QEMU_INSTALL_HINT}",
            qemu::QEMU
        ));
    }
    println!("xtask: installing {QEMU_PACKAGE} with apt-get");
    process::output(
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    process::output(
        Command::new("apt-get")
            .args(["install", "-y", QEMU_PACKAGE])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    if process::on_path(qemu::QEMU).is_none() {
        return Err(format!(
            "{QEMU_PACKAGE} is installed but {} is still not on PATH",
            qemu::QEMU
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_rustup_installing() {
        assert!(!installed_something(
            "info: using existing install for 1.95.0-x86_64-unknown-linux-gnu\n\
             info: the active toolchain `1.95.0-x86_64-unknown-linux-gnu` has been installed\n"
        ));
        assert!(installed_something(
            "info: syncing channel updates for '1.95.0'\ninfo: downloading component 'rust-std'\n"
        ));
        assert!(installed_something(
            "info: installing component 'rust-std' for 'x86_64-unknown-none'\n"
        ));
    }

    #[test]
    fn the_hint_is_the_documented_command() {
        assert_eq!(
            QEMU_INSTALL_HINT,
            format!("sudo apt-get install -y {QEMU_PACKAGE}")
        );
    }
}
