//! `xl block-list`'s table: one row per virtual disk, read from the frontend's and backend's xenstore directories as libxl's diskinfo does.
// Columns (xl_block.c): Vdev (the device number), BE (backend domain), handle (the frontend
// domain), state (the frontend's xenbus state), evt-ch and ring-ref (what the frontend
// published), BE-path. A value that is missing or unreadable shows as -1, as libxl fills it.

use alloc::format;
use alloc::string::String;

/// One virtual disk's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRow {
    /// Device number (`virtual-device`).
    pub devid: i64,
    /// Backend domain.
    pub backend_id: i64,
    /// Frontend domain.
    pub frontend_id: i64,
    /// The frontend's state.
    pub state: i64,
    /// The frontend's event channel port.
    pub evtch: i64,
    /// The frontend's ring grant reference.
    pub rref: i64,
    /// The backend's directory.
    pub backend: String,
}

/// The header line.
pub fn header() -> String {
    format!(
        "{:<5} {:<3} {:<6} {:<5} {:<6} {:<8} {:<30}\n",
        "Vdev", "BE", "handle", "state", "evt-ch", "ring-ref", "BE-path"
    )
}

/// One row's line.
pub fn row(r: &BlockRow) -> String {
    format!(
        "{:<5} {:<3} {:<6} {:<5} {:<6} {:<8} {:<30}\n",
        r.devid, r.backend_id, r.frontend_id, r.state, r.evtch, r.rref, r.backend
    )
}

/// A xenstore value as libxl reads a number (`strtoul(val, NULL, 10)`; -1 when missing).
pub fn number(value: Option<&str>) -> i64 {
    match value {
        None => -1,
        Some(v) => {
            let digits: String = v
                .chars()
                .take_while(char::is_ascii_digit)
                .take(18)
                .collect();
            digits.parse().unwrap_or(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_xl() {
        assert_eq!(
            header(),
            "Vdev  BE  handle state evt-ch ring-ref BE-path                       \n"
        );
        let r = BlockRow {
            devid: 51712,
            backend_id: 0,
            frontend_id: 1,
            state: 4,
            evtch: 7,
            rref: 8,
            backend: String::from("/local/domain/0/backend/vbd/1/51712"),
        };
        assert_eq!(
            row(&r),
            "51712 0   1      4     7      8        /local/domain/0/backend/vbd/1/51712\n"
        );
        assert_eq!(number(None), -1);
        assert_eq!(number(Some("12")), 12);
        assert_eq!(number(Some("x")), 0);
        assert_eq!(
            number(Some("99999999999999999999999")),
            999_999_999_999_999_999
        );
    }
}
