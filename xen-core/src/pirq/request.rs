//! Decoding physdev_op's PIRQ requests (map_pirq, unmap_pirq) before anything is looked up.

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::physdev::{
    MAP_PIRQ_TYPE_GSI, MAP_PIRQ_TYPE_MSI, MAP_PIRQ_TYPE_MSI_SEG, MAP_PIRQ_TYPE_MULTI_MSI,
    PhysdevMapPirq, PhysdevUnmapPirq,
};

use super::lines::NR_GSIS;

/// What a map_pirq request maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// A GSI (`index`, not yet range-checked).
    Gsi {
        /// The GSI asked for.
        index: i32,
    },
    /// A single MSI (`index`: an IRQ number, -1 for a new one).
    Msi {
        /// The IRQ asked for.
        index: i32,
    },
    /// Several MSIs of one device.
    MultiMsi,
    /// A type map_pirq does not know.
    Unknown,
}

/// A decoded PHYSDEVOP_map_pirq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRequest {
    /// The target domain (DOMID_SELF resolved to the caller).
    pub domid: DomId,
    /// What to map.
    pub kind: MapKind,
    /// The PIRQ wanted; negative: any.
    pub pirq: i32,
}

fn resolve(domid: DomId, caller: DomId) -> DomId {
    if domid == DOMID_SELF { caller } else { domid }
}

impl MapRequest {
    /// Decodes `raw` from `caller`. `EINVAL` for a multi-MSI request with an MSI-X table
    /// (Xen refuses it before looking the domain up).
    pub fn decode(raw: &PhysdevMapPirq, caller: DomId) -> Result<MapRequest, Errno> {
        let kind = match raw.type_ {
            MAP_PIRQ_TYPE_GSI => MapKind::Gsi { index: raw.index },
            MAP_PIRQ_TYPE_MSI | MAP_PIRQ_TYPE_MSI_SEG => MapKind::Msi { index: raw.index },
            MAP_PIRQ_TYPE_MULTI_MSI if raw.table_base != 0 => return Err(Errno::Inval),
            MAP_PIRQ_TYPE_MULTI_MSI => MapKind::MultiMsi,
            _ => MapKind::Unknown,
        };
        Ok(MapRequest {
            domid: resolve(raw.domid, caller),
            kind,
            pirq: raw.pirq,
        })
    }
}

/// What map_pirq answers for anything but a GSI on xen-core, which has no PCI devices (and
/// so no MSIs): `EINVAL` for an unknown type or an MSI whose IRQ is a GSI's (or negative but
/// -1), `EPERM` for an IRQ the domain was never given, else `ENODEV` (no such device).
pub fn non_gsi_errno(kind: MapKind) -> Errno {
    match kind {
        MapKind::Unknown => Errno::Inval,
        MapKind::Msi { index } if index != -1 && index < NR_GSIS as i32 => Errno::Inval,
        MapKind::Msi { index } if index != -1 => Errno::Perm,
        _ => Errno::NoDev,
    }
}

/// A decoded PHYSDEVOP_unmap_pirq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmapRequest {
    /// The target domain (DOMID_SELF resolved to the caller).
    pub domid: DomId,
    /// The PIRQ (a C int, not yet range-checked).
    pub pirq: i32,
}

impl UnmapRequest {
    /// Decodes `raw` from `caller`.
    pub fn decode(raw: &PhysdevUnmapPirq, caller: DomId) -> UnmapRequest {
        UnmapRequest {
            domid: resolve(raw.domid, caller),
            pirq: raw.pirq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypercall_abi::physdev::MAP_PIRQ_TYPE_UNKNOWN;

    fn raw(type_: i32, index: i32) -> PhysdevMapPirq {
        PhysdevMapPirq {
            domid: DOMID_SELF,
            type_,
            index,
            pirq: -1,
            ..PhysdevMapPirq::default()
        }
    }

    #[test]
    fn decodes_types_and_resolves_self() {
        let r = MapRequest::decode(&raw(MAP_PIRQ_TYPE_GSI, 14), 0).unwrap();
        assert_eq!(
            r,
            MapRequest {
                domid: 0,
                kind: MapKind::Gsi { index: 14 },
                pirq: -1
            }
        );
        let r = MapRequest::decode(
            &PhysdevMapPirq {
                domid: 7,
                ..raw(1, 3)
            },
            0,
        )
        .unwrap();
        assert_eq!(r.domid, 7);
        let r = MapRequest::decode(&raw(MAP_PIRQ_TYPE_MSI_SEG, -1), 3).unwrap();
        assert_eq!((r.domid, r.kind), (3, MapKind::Msi { index: -1 }));
        for t in [MAP_PIRQ_TYPE_UNKNOWN, 7, -1, i32::MAX] {
            assert_eq!(
                MapRequest::decode(&raw(t, 14), 0).unwrap().kind,
                MapKind::Unknown
            );
        }
        let multi = PhysdevMapPirq {
            table_base: 0x1000,
            ..raw(MAP_PIRQ_TYPE_MULTI_MSI, -1)
        };
        assert_eq!(MapRequest::decode(&multi, 0), Err(Errno::Inval));
        let multi = raw(MAP_PIRQ_TYPE_MULTI_MSI, -1);
        assert_eq!(
            MapRequest::decode(&multi, 0).unwrap().kind,
            MapKind::MultiMsi
        );
    }

    #[test]
    fn non_gsi_requests_fail_like_xen_without_devices() {
        assert_eq!(non_gsi_errno(MapKind::Unknown), Errno::Inval);
        assert_eq!(non_gsi_errno(MapKind::Msi { index: 5 }), Errno::Inval);
        assert_eq!(non_gsi_errno(MapKind::Msi { index: -5 }), Errno::Inval);
        assert_eq!(non_gsi_errno(MapKind::Msi { index: 40 }), Errno::Perm);
        assert_eq!(non_gsi_errno(MapKind::Msi { index: -1 }), Errno::NoDev);
        assert_eq!(non_gsi_errno(MapKind::MultiMsi), Errno::NoDev);
    }

    #[test]
    fn unmap_resolves_self() {
        let r = UnmapRequest::decode(
            &PhysdevUnmapPirq {
                domid: DOMID_SELF,
                pad: 0,
                pirq: -1,
            },
            4,
        );
        assert_eq!(r, UnmapRequest { domid: 4, pirq: -1 });
    }
}
