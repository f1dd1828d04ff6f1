//! Which names a domain may take (`rename`, and names from config files).
//
// libxl's only rule is that a non-empty name is unique (`domain with name "X" already
// exists.`). We add rules of our own so that a name always reads back as a name: not empty, at
// most [`NAME_MAX`] bytes, printable ASCII without blanks or `/` (it is a xenstore path
// component's value and a shell word), and not all digits (xl would read it as a domain id).

use core::fmt;

/// Longest name we accept, in bytes.
pub const NAME_MAX: usize = 64;

/// Why a name cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// Empty.
    Empty,
    /// Longer than [`NAME_MAX`].
    TooLong,
    /// Has a byte that is not printable ASCII, a blank or `/`.
    BadCharacter,
    /// All digits.
    Numeric,
    /// Another domain has it (libxl's message).
    Exists(alloc::string::String),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => writeln!(f, "domain name must not be empty."),
            NameError::TooLong => {
                writeln!(f, "domain name is longer than {NAME_MAX} characters.")
            }
            NameError::BadCharacter => writeln!(
                f,
                "domain name may only hold printable characters other than blanks and '/'."
            ),
            NameError::Numeric => {
                writeln!(
                    f,
                    "domain name must not be all digits (it would read as an id)."
                )
            }
            NameError::Exists(name) => writeln!(f, "domain with name \"{name}\" already exists."),
        }
    }
}

/// Checks `name` on its own.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > NAME_MAX {
        return Err(NameError::TooLong);
    }
    if !name.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
        return Err(NameError::BadCharacter);
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameError::Numeric);
    }
    Ok(())
}

/// Checks that domain `domid` may be renamed to `new_name` among `domains` (id, name): as libxl,
/// keeping its own name is allowed.
pub fn check_rename(domid: u32, new_name: &str, domains: &[(u32, &str)]) -> Result<(), NameError> {
    check_name(new_name)?;
    match domains.iter().find(|(_, name)| *name == new_name) {
        Some((other, _)) if *other != domid => {
            Err(NameError::Exists(alloc::string::String::from(new_name)))
        }
        _ => Ok(()),
    }
}

/// xl's line after a failed rename of `dom` (as the user typed it).
pub fn rename_failed(dom: &str) -> alloc::string::String {
    alloc::format!("Can't rename domain '{dom}'.\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_name("guest-1_a.b"), Ok(()));
        assert_eq!(check_name("1guest"), Ok(()));
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name("12"), Err(NameError::Numeric));
        assert_eq!(check_name("a b"), Err(NameError::BadCharacter));
        assert_eq!(check_name("a/b"), Err(NameError::BadCharacter));
        assert_eq!(check_name("a\u{7f}"), Err(NameError::BadCharacter));
        assert_eq!(check_name("é"), Err(NameError::BadCharacter));
        assert_eq!(check_name(&"x".repeat(64)), Ok(()));
        assert_eq!(check_name(&"x".repeat(65)), Err(NameError::TooLong));
    }

    #[test]
    fn rename_uniqueness() {
        let doms = [(0, "Domain-0"), (1, "a"), (2, "b")];
        assert_eq!(check_rename(1, "c", &doms), Ok(()));
        assert_eq!(check_rename(1, "a", &doms), Ok(()));
        let err = check_rename(1, "b", &doms).unwrap_err();
        assert_eq!(err.to_string(), "domain with name \"b\" already exists.\n");
        assert_eq!(check_rename(1, "7", &doms), Err(NameError::Numeric));
        assert_eq!(rename_failed("a"), "Can't rename domain 'a'.\n");
    }
}
