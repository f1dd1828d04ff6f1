//! Where the workspace and its build output live, asked of cargo rather than hard-coded.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root: xtask is always built from its own directory inside it.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The cargo binary to run: the one that started us if cargo did, else `cargo` on PATH.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// The workspace's target directory: `CARGO_TARGET_DIR` if set, else `cargo metadata`'s
/// `target_directory` (which also honours `build.target-dir` in cargo's config).
pub fn target_dir() -> Result<PathBuf, String> {
    static TARGET_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TARGET_DIR.get_or_init(find_target_dir).clone()
}

fn find_target_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if dir.is_absolute() {
            return Ok(dir);
        }
        // Cargo resolves a relative CARGO_TARGET_DIR against its working directory.
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot read the current directory: {e}"))?;
        return Ok(cwd.join(dir));
    }
    let root = workspace_root();
    let output = Command::new(cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .current_dir(&root)
        .output()
        .map_err(|e| format!("cannot run `cargo metadata`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo metadata` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let json = String::from_utf8_lossy(&output.stdout);
    json_string_field(&json, "target_directory")
        .map(PathBuf::from)
        .ok_or_else(|| "`cargo metadata` printed no target_directory".to_string())
}

/// Release build output of the bare-metal target (`<target>/x86_64-unknown-none/release`).
pub fn bare_metal_release_dir(target_dir: &Path) -> PathBuf {
    target_dir.join(crate::images::TARGET).join("release")
}

/// The string value of the first `"key": "..."` pair in a JSON text, unescaped.
///
/// Enough for `cargo metadata`'s `target_directory`, which occurs once; not a JSON parser.
pub fn json_string_field(json: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let mut search_from = 0;
    while let Some(found) = json[search_from..].find(&needle) {
        let after_key = search_from + found + needle.len();
        search_from = after_key;
        let rest = json[after_key..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(rest) = rest.strip_prefix('"') else {
            continue;
        };
        return unescape_json_string(rest);
    }
    None
}

/// Reads a JSON string body up to its closing quote, resolving escapes.
fn unescape_json_string(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let unit = u32::from_str_radix(&hex, 16).ok()?;
                    // Paths with characters outside the BMP would need surrogate pairs;
                    // they come out as U+FFFD here, which is good enough for an error path.
                    out.push(char::from_u32(unit).unwrap_or('\u{fffd}'));
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_target_directory_in_metadata() {
        let json = r#"{"packages":[],"target_directory":"/work/main/target","version":1,"workspace_root":"/work/main"}"#;
        assert_eq!(
            json_string_field(json, "target_directory").as_deref(),
            Some("/work/main/target")
        );
        assert_eq!(
            json_string_field(json, "workspace_root").as_deref(),
            Some("/work/main")
        );
    }

    #[test]
    fn resolves_escapes_and_whitespace() {
        let json = r#"{ "target_directory" : "C:\\a \"b\"\/c\u0041" }"#;
        assert_eq!(
            json_string_field(json, "target_directory").as_deref(),
            Some("C:\\a \"b\"/cA")
        );
    }

    #[test]
    fn skips_a_key_that_is_a_value() {
        let json = r#"{"name":"target_directory","target_directory":"/t"}"#;
        assert_eq!(
            json_string_field(json, "target_directory").as_deref(),
            Some("/t")
        );
    }

    #[test]
    fn missing_or_unterminated_is_none() {
        assert_eq!(json_string_field(r#"{"a":"b"}"#, "target_directory"), None);
        assert_eq!(
            json_string_field(r#"{"target_directory":"/t"#, "target_directory"),
            None
        );
        assert_eq!(
            json_string_field(r#"{"target_directory":3}"#, "target_directory"),
            None
        );
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }
}
