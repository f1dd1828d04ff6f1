//! The xenstore nodes the toolstack writes for a new domain, as libxl lays them out.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;

/// Who may do what with a node: the owner (full access), and what everyone else may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Owned by Dom0; the guest may read it (libxl's read-only nodes).
    GuestReads,
    /// Owned by the guest, which may read and write it; nobody else gets access (libxl's
    /// read-write nodes: control, data, device, ...).
    GuestWrites,
    /// Owned by Dom0 and private to it (the /vm and /libxl trees).
    Dom0Only,
}

/// One node to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path.
    pub path: String,
    /// Value.
    pub value: String,
    /// Access.
    pub access: Access,
}

/// What the toolstack knows about a new domain.
#[derive(Clone, Copy, Debug)]
pub struct NewDomain<'a> {
    /// Its id.
    pub domid: DomId,
    /// Its name.
    pub name: &'a str,
    /// Its UUID as text.
    pub uuid: &'a str,
    /// Its vCPUs.
    pub vcpus: u32,
    /// `memory/target` in KiB.
    pub target_kib: u64,
    /// `memory/static-max` in KiB.
    pub max_kib: u64,
    /// Machine frame of the xenstore ring (a PV guest's `store/ring-ref`).
    pub store_mfn: u64,
    /// The guest's xenstore event channel.
    pub store_port: u32,
    /// Machine frame of the console ring.
    pub console_mfn: u64,
    /// The guest's console event channel.
    pub console_port: u32,
}

/// `/local/domain/<domid>`.
pub fn domain_path(domid: DomId) -> String {
    format!("/local/domain/{domid}")
}

/// A domain handle as UUID text (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
pub fn uuid_text(handle: &[u8; 16]) -> String {
    let h = |r: core::ops::Range<usize>| {
        handle[r]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    )
}

/// The nodes of a new PV domain, parents before children.
pub fn entries(d: &NewDomain<'_>) -> Vec<Entry> {
    let dom = domain_path(d.domid);
    let vm = format!("/vm/{}", d.uuid);
    let mut out = Vec::new();
    let mut put = |path: String, value: String, access: Access| {
        out.push(Entry {
            path,
            value,
            access,
        })
    };
    use Access::*;
    put(dom.clone(), String::new(), GuestReads);
    put(format!("{dom}/vm"), vm.clone(), GuestReads);
    put(format!("{dom}/name"), String::from(d.name), GuestReads);
    put(format!("{dom}/domid"), format!("{}", d.domid), GuestReads);
    put(format!("{dom}/cpu"), String::new(), GuestReads);
    for v in 0..d.vcpus {
        put(
            format!("{dom}/cpu/{v}/availability"),
            String::from("online"),
            GuestReads,
        );
    }
    put(format!("{dom}/memory"), String::new(), GuestReads);
    put(
        format!("{dom}/memory/static-max"),
        format!("{}", d.max_kib),
        GuestReads,
    );
    put(
        format!("{dom}/memory/target"),
        format!("{}", d.target_kib),
        GuestReads,
    );
    put(format!("{dom}/store"), String::new(), GuestReads);
    put(
        format!("{dom}/store/port"),
        format!("{}", d.store_port),
        GuestReads,
    );
    put(
        format!("{dom}/store/ring-ref"),
        format!("{}", d.store_mfn),
        GuestReads,
    );
    put(format!("{dom}/console"), String::new(), GuestReads);
    put(
        format!("{dom}/console/port"),
        format!("{}", d.console_port),
        GuestReads,
    );
    put(
        format!("{dom}/console/ring-ref"),
        format!("{}", d.console_mfn),
        GuestReads,
    );
    put(
        format!("{dom}/console/type"),
        String::from("xenconsoled"),
        GuestReads,
    );
    put(
        format!("{dom}/console/output"),
        String::from("pty"),
        GuestReads,
    );
    for dir in [
        "control", "data", "device", "drivers", "feature", "attr", "error",
    ] {
        put(format!("{dom}/{dir}"), String::new(), GuestWrites);
    }
    put(
        format!("{dom}/control/shutdown"),
        String::new(),
        GuestWrites,
    );
    put(vm.clone(), String::new(), Dom0Only);
    put(format!("{vm}/name"), String::from(d.name), Dom0Only);
    put(format!("{vm}/uuid"), String::from(d.uuid), Dom0Only);
    put(
        format!("/libxl/{}/type", d.domid),
        String::from("pv"),
        Dom0Only,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain() -> NewDomain<'static> {
        NewDomain {
            domid: 3,
            name: "d1",
            uuid: "00000000-0000-4000-8000-000000000001",
            vcpus: 1,
            target_kib: 16384,
            max_kib: 32768,
            store_mfn: 0x1234,
            store_port: 2,
            console_mfn: 0x1235,
            console_port: 1,
        }
    }

    fn value<'a>(e: &'a [Entry], path: &str) -> &'a Entry {
        e.iter().find(|x| x.path == path).unwrap()
    }

    #[test]
    fn the_standard_paths_are_filled() {
        let e = entries(&domain());
        assert_eq!(value(&e, "/local/domain/3/name").value, "d1");
        assert_eq!(value(&e, "/local/domain/3/domid").value, "3");
        assert_eq!(value(&e, "/local/domain/3/memory/target").value, "16384");
        assert_eq!(
            value(&e, "/local/domain/3/memory/static-max").value,
            "32768"
        );
        assert_eq!(value(&e, "/local/domain/3/store/ring-ref").value, "4660");
        assert_eq!(value(&e, "/local/domain/3/console/port").value, "1");
        assert_eq!(
            value(&e, "/local/domain/3/cpu/0/availability").value,
            "online"
        );
        assert_eq!(
            value(&e, "/local/domain/3/vm").value,
            "/vm/00000000-0000-4000-8000-000000000001"
        );
        assert_eq!(value(&e, "/libxl/3/type").value, "pv");
    }

    #[test]
    fn the_guest_writes_only_its_own_control_and_data() {
        let e = entries(&domain());
        assert_eq!(
            value(&e, "/local/domain/3/control/shutdown").access,
            Access::GuestWrites
        );
        assert_eq!(
            value(&e, "/local/domain/3/data").access,
            Access::GuestWrites
        );
        assert_eq!(
            value(&e, "/local/domain/3/memory/target").access,
            Access::GuestReads
        );
        assert_eq!(value(&e, "/local/domain/3").access, Access::GuestReads);
    }

    #[test]
    fn uuids_are_grouped_8_4_4_4_12() {
        let mut h = [0u8; 16];
        h[0] = 0xab;
        h[15] = 0x01;
        assert_eq!(uuid_text(&h), "ab000000-0000-0000-0000-000000000001");
    }

    #[test]
    fn parents_come_before_children() {
        let e = entries(&domain());
        for (i, x) in e.iter().enumerate() {
            let parent = &x.path[..x.path.rfind('/').unwrap()];
            if let Some(j) = e.iter().position(|y| y.path == parent) {
                assert!(j < i, "{} before its parent", x.path);
            }
        }
    }
}
