//! Xenstore path rules: relative paths, validity, parents and the child relation.

use alloc::format;
use alloc::string::String;
use hypercall_abi::domid::DomId;
use hypercall_abi::errno::Errno;
use hypercall_abi::xenstore::{XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX};

/// Where every domain's home directory lives.
pub const LOCAL_DOMAIN: &str = "/local/domain";

/// The home path of `domid`, against which its relative paths are resolved.
pub fn domain_path(domid: DomId) -> String {
    format!("{LOCAL_DOMAIN}/{domid}")
}

/// Whether `path` names a special watch/permission node (`@introduceDomain`...).
pub fn is_special(path: &str) -> bool {
    path.starts_with('@')
}

/// Decodes a path argument of `domid`'s request into its absolute form (special names are
/// kept as they are). Bytes outside ASCII are EINVAL; validity is checked by `validate`.
pub fn canonicalize(domid: DomId, raw: &[u8]) -> Result<String, Errno> {
    let s = core::str::from_utf8(raw).map_err(|_| Errno::Inval)?;
    if s.starts_with('/') || is_special(s) {
        Ok(String::from(s))
    } else {
        Ok(format!("{}/{s}", domain_path(domid)))
    }
}

/// Length of a leading `/local/domain/<id>/` in `path`, or 0: the part a domain's path
/// length quota does not count.
fn local_offset(path: &str) -> usize {
    let Some(rest) = path.strip_prefix("/local/domain/") else {
        return 0;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 5 || rest.as_bytes().get(digits) != Some(&b'/') {
        return 0;
    }
    "/local/domain/".len() + digits + 1
}

/// Checks an absolute node path: starts with `/`, no trailing (except the root) or doubled
/// `/`, only `[A-Za-z0-9-/_@]`, at most `XENSTORE_ABS_PATH_MAX` bytes and, for an
/// unprivileged caller, at most `XENSTORE_REL_PATH_MAX` bytes below `/local/domain/<id>/`.
pub fn validate(path: &str, privileged: bool) -> Result<(), Errno> {
    let ok = path.starts_with('/')
        && (path == "/" || !path.ends_with('/'))
        && !path.contains("//")
        && path.len() <= XENSTORE_ABS_PATH_MAX
        && (privileged || path.len() - local_offset(path) <= XENSTORE_REL_PATH_MAX)
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'_' | b'@'));
    if ok { Ok(()) } else { Err(Errno::Inval) }
}

/// Checks a special name (`@...`): printable ASCII without `/` trouble is not required by
/// xenstored, only a bounded length.
pub fn validate_special(path: &str) -> Result<(), Errno> {
    if is_special(path) && path.len() <= XENSTORE_REL_PATH_MAX {
        Ok(())
    } else {
        Err(Errno::Inval)
    }
}

/// The parent of a valid absolute path (`/` has none).
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a valid absolute path.
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// `parent/name`.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Whether `child` is `parent` or below it (everything is below `/`).
pub fn is_child(child: &str, parent: &str) -> bool {
    if parent == "/" {
        return true;
    }
    match child.strip_prefix(parent) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_home() {
        assert_eq!(canonicalize(3, b"x/y").unwrap(), "/local/domain/3/x/y");
        assert_eq!(canonicalize(3, b"/a").unwrap(), "/a");
        assert_eq!(
            canonicalize(3, b"@releaseDomain").unwrap(),
            "@releaseDomain"
        );
        assert_eq!(canonicalize(3, &[0xff]), Err(Errno::Inval));
    }

    #[test]
    fn validity_rules() {
        for good in ["/", "/a", "/a-b/c_d/@x/09"] {
            assert_eq!(validate(good, false), Ok(()), "{good}");
        }
        for bad in ["", "a", "/a/", "/a//b", "/a b", "/a.b", "/ä"] {
            assert_eq!(validate(bad, true), Err(Errno::Inval), "{bad}");
        }
        let long = format!("/{}", "a".repeat(XENSTORE_ABS_PATH_MAX));
        assert_eq!(validate(&long, true), Err(Errno::Inval));
        let rel = format!("/local/domain/7/{}", "a".repeat(XENSTORE_REL_PATH_MAX));
        assert_eq!(validate(&rel, false), Ok(()));
        let rel = format!("/local/domain/7/{}", "a".repeat(XENSTORE_REL_PATH_MAX + 1));
        assert_eq!(validate(&rel, false), Err(Errno::Inval));
        assert_eq!(validate(&rel, true), Ok(()));
        let other = format!("/x/{}", "a".repeat(XENSTORE_REL_PATH_MAX));
        assert_eq!(validate(&other, false), Err(Errno::Inval));
    }

    #[test]
    fn parents_children_and_names() {
        assert_eq!(parent("/"), None);
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert!(is_child("/a/b", "/a"));
        assert!(is_child("/a", "/a"));
        assert!(is_child("/a", "/"));
        assert!(!is_child("/ab", "/a"));
        assert!(!is_child("/a", "/a/b"));
    }
}
