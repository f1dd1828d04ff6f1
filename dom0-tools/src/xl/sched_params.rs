//! Checking `sched-credit` weight and cap before they reach the hypervisor (as libxl does).

use core::fmt;

/// Highest credit weight.
pub const WEIGHT_MAX: i64 = 65535;

/// A weight or cap out of range; prints libxl's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedParamError {
    /// Weight not in 1..=65535.
    Weight,
    /// Cap not in 0..=100 per vCPU; holds that upper bound.
    Cap {
        /// `100 * vcpus`.
        max: u32,
    },
}

impl fmt::Display for SchedParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedParamError::Weight => writeln!(
                f,
                "Cpu weight out of range, valid values are within range from 1 to 65535"
            ),
            SchedParamError::Cap { max } => writeln!(
                f,
                "Cpu cap out of range, valid range is from 0 to {max} for specified number of vcpus"
            ),
        }
    }
}

/// The weight to set, if in range.
pub fn check_weight(weight: i64) -> Result<u16, SchedParamError> {
    if (1..=WEIGHT_MAX).contains(&weight) {
        u16::try_from(weight).map_err(|_| SchedParamError::Weight)
    } else {
        Err(SchedParamError::Weight)
    }
}

/// The cap to set for a domain with `vcpus` vCPUs (`max_vcpu_id + 1`), if in range.
pub fn check_cap(cap: i64, vcpus: u32) -> Result<u16, SchedParamError> {
    let max = vcpus.saturating_mul(100).min(u32::from(u16::MAX));
    if (0..=i64::from(max)).contains(&cap) {
        u16::try_from(cap).map_err(|_| SchedParamError::Cap { max })
    } else {
        Err(SchedParamError::Cap { max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_range() {
        assert_eq!(check_weight(1), Ok(1));
        assert_eq!(check_weight(256), Ok(256));
        assert_eq!(check_weight(65535), Ok(65535));
        assert_eq!(check_weight(0), Err(SchedParamError::Weight));
        assert_eq!(check_weight(65536), Err(SchedParamError::Weight));
        assert_eq!(check_weight(-1), Err(SchedParamError::Weight));
        assert_eq!(
            SchedParamError::Weight.to_string(),
            "Cpu weight out of range, valid values are within range from 1 to 65535\n"
        );
    }

    #[test]
    fn cap_range() {
        assert_eq!(check_cap(0, 1), Ok(0));
        assert_eq!(check_cap(100, 1), Ok(100));
        assert_eq!(check_cap(200, 2), Ok(200));
        assert_eq!(check_cap(101, 1), Err(SchedParamError::Cap { max: 100 }));
        assert_eq!(check_cap(-1, 4), Err(SchedParamError::Cap { max: 400 }));
        assert_eq!(check_cap(1, 0), Err(SchedParamError::Cap { max: 0 }));
        assert!(check_cap(i64::MAX, u32::MAX).is_err());
        assert_eq!(
            SchedParamError::Cap { max: 200 }.to_string(),
            "Cpu cap out of range, valid range is from 0 to 200 for specified number of vcpus\n"
        );
    }
}
