//! console_io: the hypervisor console commands.

use crate::errno::Errno;

/// console_io command (`CONSOLEIO_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsoleIoCmd {
    /// Write bytes to the hypervisor console.
    Write = 0,
    /// Read bytes typed on the hypervisor console (control domain).
    Read = 1,
}

impl TryFrom<u64> for ConsoleIoCmd {
    type Error = Errno;

    /// Xen takes `cmd` as a C `int`: the upper 32 bits are ignored; unknown is -ENOSYS.
    fn try_from(cmd: u64) -> Result<Self, Errno> {
        match cmd as u32 {
            0 => Ok(ConsoleIoCmd::Write),
            1 => Ok(ConsoleIoCmd::Read),
            _ => Err(Errno::NoSys),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_xen_h() {
        assert_eq!(ConsoleIoCmd::Write as u8, 0);
        assert_eq!(ConsoleIoCmd::Read as u8, 1);
    }

    #[test]
    fn decode() {
        assert_eq!(ConsoleIoCmd::try_from(0), Ok(ConsoleIoCmd::Write));
        assert_eq!(ConsoleIoCmd::try_from(1), Ok(ConsoleIoCmd::Read));
        for v in [2, 3, u64::from(u32::MAX)] {
            assert_eq!(ConsoleIoCmd::try_from(v), Err(Errno::NoSys), "{v}");
        }
        assert_eq!(
            ConsoleIoCmd::try_from(0x1_0000_0000),
            Ok(ConsoleIoCmd::Write)
        );
    }
}
