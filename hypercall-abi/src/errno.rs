//! Xen's error numbers (the Linux values) and their `-errno` return form.

/// An error a hypercall returns as `-errno` in `rax`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Errno {
    /// Operation not permitted.
    Perm = 1,
    /// No such file or directory.
    NoEnt = 2,
    /// No such process (domain).
    Srch = 3,
    /// Interrupted call.
    Intr = 4,
    /// I/O error.
    Io = 5,
    /// Argument list too long.
    TooBig = 7,
    /// Bad file (port) number.
    BadF = 9,
    /// Try again.
    Again = 11,
    /// Out of memory.
    NoMem = 12,
    /// Permission denied.
    Acces = 13,
    /// Bad address.
    Fault = 14,
    /// Device or resource busy.
    Busy = 16,
    /// Already exists.
    Exist = 17,
    /// No such device (a debug register alias turned off by CR4.DE).
    NoDev = 19,
    /// Invalid argument.
    Inval = 22,
    /// No space left.
    NoSpc = 28,
    /// Result out of range.
    Range = 34,
    /// Function not implemented.
    NoSys = 38,
    /// Operation not supported.
    OpNotSupp = 95,
}

impl Errno {
    /// Every variant, in numeric order.
    pub const ALL: [Errno; 19] = [
        Errno::Perm,
        Errno::NoEnt,
        Errno::Srch,
        Errno::Intr,
        Errno::Io,
        Errno::TooBig,
        Errno::BadF,
        Errno::Again,
        Errno::NoMem,
        Errno::Acces,
        Errno::Fault,
        Errno::Busy,
        Errno::Exist,
        Errno::NoDev,
        Errno::Inval,
        Errno::NoSpc,
        Errno::Range,
        Errno::NoSys,
        Errno::OpNotSupp,
    ];

    /// The hypercall return value for this error: `-errno`.
    pub const fn to_ret(self) -> i64 {
        -(self as i32 as i64)
    }

    /// Decodes a hypercall return value; `None` unless it is a known `-errno`.
    pub fn from_ret(ret: i64) -> Option<Errno> {
        Errno::ALL.iter().copied().find(|e| e.to_ret() == ret)
    }

    /// The C name of the error, such as `"EINVAL"`.
    pub const fn name(self) -> &'static str {
        match self {
            Errno::Perm => "EPERM",
            Errno::NoEnt => "ENOENT",
            Errno::Srch => "ESRCH",
            Errno::Intr => "EINTR",
            Errno::Io => "EIO",
            Errno::TooBig => "E2BIG",
            Errno::BadF => "EBADF",
            Errno::Again => "EAGAIN",
            Errno::NoMem => "ENOMEM",
            Errno::Acces => "EACCES",
            Errno::Fault => "EFAULT",
            Errno::Busy => "EBUSY",
            Errno::Exist => "EEXIST",
            Errno::NoDev => "ENODEV",
            Errno::Inval => "EINVAL",
            Errno::NoSpc => "ENOSPC",
            Errno::Range => "ERANGE",
            Errno::NoSys => "ENOSYS",
            Errno::OpNotSupp => "EOPNOTSUPP",
        }
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (variant, Linux/Xen errno value, name) from xen/include/public/errno.h.
    const TABLE: [(Errno, i32, &str); 19] = [
        (Errno::Perm, 1, "EPERM"),
        (Errno::NoEnt, 2, "ENOENT"),
        (Errno::Srch, 3, "ESRCH"),
        (Errno::Intr, 4, "EINTR"),
        (Errno::Io, 5, "EIO"),
        (Errno::TooBig, 7, "E2BIG"),
        (Errno::BadF, 9, "EBADF"),
        (Errno::Again, 11, "EAGAIN"),
        (Errno::NoMem, 12, "ENOMEM"),
        (Errno::Acces, 13, "EACCES"),
        (Errno::Fault, 14, "EFAULT"),
        (Errno::Busy, 16, "EBUSY"),
        (Errno::Exist, 17, "EEXIST"),
        (Errno::NoDev, 19, "ENODEV"),
        (Errno::Inval, 22, "EINVAL"),
        (Errno::NoSpc, 28, "ENOSPC"),
        (Errno::Range, 34, "ERANGE"),
        (Errno::NoSys, 38, "ENOSYS"),
        (Errno::OpNotSupp, 95, "EOPNOTSUPP"),
    ];

    #[test]
    fn values_names_and_return_form() {
        for (e, v, name) in TABLE {
            assert_eq!(e as i32, v, "{name}");
            assert_eq!(e.to_ret(), -i64::from(v), "{name}");
            assert_eq!(e.name(), name);
            assert_eq!(Errno::from_ret(-i64::from(v)), Some(e), "{name}");
        }
    }

    #[test]
    fn all_lists_every_variant_once() {
        let from_table: [Errno; 19] = TABLE.map(|(e, _, _)| e);
        assert_eq!(Errno::ALL, from_table);
    }

    #[test]
    fn from_ret_rejects_non_errors() {
        for ret in [0, 1, 22, -6, -8, -10, -96, -4096, i64::MIN, i64::MAX] {
            assert_eq!(Errno::from_ret(ret), None, "{ret}");
        }
    }
}
