//! physdev_op: the I/O privilege commands a PV kernel uses for port access, and physical IRQs (PIRQs).

use core::mem::{offset_of, size_of};

/// `PHYSDEVOP_irq_status_query`: whether a PIRQ needs an EOI hypercall (`PhysdevIrqStatusQuery`).
pub const PHYSDEVOP_IRQ_STATUS_QUERY: u64 = 5;
/// `PHYSDEVOP_eoi`: the guest is done with a PIRQ's event (`PhysdevEoi`).
pub const PHYSDEVOP_EOI: u64 = 12;
/// `PHYSDEVOP_map_pirq`: map a GSI (or an MSI) to a PIRQ of a domain (`PhysdevMapPirq`).
pub const PHYSDEVOP_MAP_PIRQ: u64 = 13;
/// `PHYSDEVOP_unmap_pirq`: undo `PHYSDEVOP_map_pirq` (`PhysdevUnmapPirq`).
pub const PHYSDEVOP_UNMAP_PIRQ: u64 = 14;
/// `PHYSDEVOP_setup_gsi`: set a GSI's trigger mode and polarity in the IO-APIC.
pub const PHYSDEVOP_SETUP_GSI: u64 = 21;

/// `PhysdevMapPirq::type_`: a message-signalled interrupt.
pub const MAP_PIRQ_TYPE_MSI: i32 = 0;
/// `PhysdevMapPirq::type_`: a GSI (`index` is the GSI; ISA IRQs 0-15 are GSIs 0-15).
pub const MAP_PIRQ_TYPE_GSI: i32 = 1;
/// `PhysdevMapPirq::type_`: unknown.
pub const MAP_PIRQ_TYPE_UNKNOWN: i32 = 2;
/// `PhysdevMapPirq::type_`: an MSI with its PCI segment in `bus`'s high 16 bits.
pub const MAP_PIRQ_TYPE_MSI_SEG: i32 = 3;
/// `PhysdevMapPirq::type_`: several MSI vectors of one device.
pub const MAP_PIRQ_TYPE_MULTI_MSI: i32 = 4;

/// `PhysdevIrqStatusQuery::flags`: the guest must call `PHYSDEVOP_eoi` after each event.
pub const XENIRQSTAT_NEEDS_EOI: u32 = 1 << 0;
/// `PhysdevIrqStatusQuery::flags`: the IRQ is shared with other domains.
pub const XENIRQSTAT_SHARED: u32 = 1 << 1;

/// `PHYSDEVOP_set_iopl`: set the calling vCPU's virtual I/O privilege level.
pub const PHYSDEVOP_SET_IOPL: u64 = 6;
/// `PHYSDEVOP_set_iobitmap`: set the calling vCPU's I/O-port permission bitmap.
pub const PHYSDEVOP_SET_IOBITMAP: u64 = 7;

/// Argument of `PHYSDEVOP_set_iopl` (`struct physdev_set_iopl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevSetIopl {
    /// The new IOPL, 0 to 3.
    pub iopl: u32,
}
const _: () = assert!(size_of::<PhysdevSetIopl>() == 4);
const _: () = assert!(offset_of!(PhysdevSetIopl, iopl) == 0);

/// Argument of `PHYSDEVOP_set_iobitmap` (`struct physdev_set_iobitmap`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevSetIobitmap {
    /// Guest virtual address of the bitmap (a set bit denies the port, as in a TSS).
    pub bitmap: u64,
    /// Number of ports the bitmap covers.
    pub nr_ports: u32,
    /// Padding (C alignment).
    pub pad: u32,
}
const _: () = assert!(size_of::<PhysdevSetIobitmap>() == 16);
const _: () = assert!(offset_of!(PhysdevSetIobitmap, bitmap) == 0);
const _: () = assert!(offset_of!(PhysdevSetIobitmap, nr_ports) == 8);

/// Argument of `PHYSDEVOP_eoi` (`struct physdev_eoi`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevEoi {
    /// The PIRQ.
    pub irq: u32,
}
const _: () = assert!(size_of::<PhysdevEoi>() == 4);

/// Argument of `PHYSDEVOP_irq_status_query` (`struct physdev_irq_status_query`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevIrqStatusQuery {
    /// In: the PIRQ.
    pub irq: u32,
    /// Out: `XENIRQSTAT_*`.
    pub flags: u32,
}
const _: () = assert!(size_of::<PhysdevIrqStatusQuery>() == 8);
const _: () = assert!(offset_of!(PhysdevIrqStatusQuery, flags) == 4);

/// Argument of `PHYSDEVOP_map_pirq` (`struct physdev_map_pirq`); C `int`s are `i32`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevMapPirq {
    /// In: the domain to map into (`DOMID_SELF` allowed).
    pub domid: u16,
    /// Padding (C alignment).
    pub pad: u16,
    /// In: `MAP_PIRQ_TYPE_*`.
    pub type_: i32,
    /// In: the GSI for `MAP_PIRQ_TYPE_GSI` (an IRQ number or -1 for MSI).
    pub index: i32,
    /// In: the PIRQ wanted, or -1 to let the hypervisor choose; out: the PIRQ mapped.
    pub pirq: i32,
    /// In (MSI): PCI bus, segment in the high 16 bits for the `_SEG` types.
    pub bus: i32,
    /// In (MSI): PCI device and function.
    pub devfn: i32,
    /// In (MSI): MSI-X entry; out for `MAP_PIRQ_TYPE_MULTI_MSI`.
    pub entry_nr: i32,
    /// Padding (C alignment of `table_base`).
    pub pad2: u32,
    /// In (MSI-X): the MSI-X table's base address.
    pub table_base: u64,
}
const _: () = assert!(size_of::<PhysdevMapPirq>() == 40);
const _: () = assert!(offset_of!(PhysdevMapPirq, type_) == 4);
const _: () = assert!(offset_of!(PhysdevMapPirq, index) == 8);
const _: () = assert!(offset_of!(PhysdevMapPirq, pirq) == 12);
const _: () = assert!(offset_of!(PhysdevMapPirq, bus) == 16);
const _: () = assert!(offset_of!(PhysdevMapPirq, devfn) == 20);
const _: () = assert!(offset_of!(PhysdevMapPirq, entry_nr) == 24);
const _: () = assert!(offset_of!(PhysdevMapPirq, table_base) == 32);

/// Argument of `PHYSDEVOP_unmap_pirq` (`struct physdev_unmap_pirq`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevUnmapPirq {
    /// In: the domain (`DOMID_SELF` allowed).
    pub domid: u16,
    /// Padding (C alignment).
    pub pad: u16,
    /// In: the PIRQ.
    pub pirq: i32,
}
const _: () = assert!(size_of::<PhysdevUnmapPirq>() == 8);
const _: () = assert!(offset_of!(PhysdevUnmapPirq, pirq) == 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_match_physdev_h() {
        assert_eq!(PHYSDEVOP_SET_IOPL, 6);
        assert_eq!(PHYSDEVOP_SET_IOBITMAP, 7);
        assert_eq!(PHYSDEVOP_IRQ_STATUS_QUERY, 5);
        assert_eq!(PHYSDEVOP_EOI, 12);
        assert_eq!(PHYSDEVOP_MAP_PIRQ, 13);
        assert_eq!(PHYSDEVOP_UNMAP_PIRQ, 14);
        assert_eq!(PHYSDEVOP_SETUP_GSI, 21);
    }

    #[test]
    fn pirq_values_match_physdev_h() {
        assert_eq!(
            [
                MAP_PIRQ_TYPE_MSI,
                MAP_PIRQ_TYPE_GSI,
                MAP_PIRQ_TYPE_UNKNOWN,
                MAP_PIRQ_TYPE_MSI_SEG,
                MAP_PIRQ_TYPE_MULTI_MSI
            ],
            [0, 1, 2, 3, 4]
        );
        assert_eq!(XENIRQSTAT_NEEDS_EOI, 1);
        assert_eq!(XENIRQSTAT_SHARED, 2);
    }

    #[test]
    fn layouts_match_physdev_h() {
        assert_eq!(size_of::<PhysdevSetIopl>(), 4);
        assert_eq!(size_of::<PhysdevSetIobitmap>(), 16);
        assert_eq!(offset_of!(PhysdevSetIobitmap, nr_ports), 8);
        assert_eq!(size_of::<PhysdevEoi>(), 4);
        assert_eq!(size_of::<PhysdevIrqStatusQuery>(), 8);
        // domid u16, then six ints from offset 4, then the u64 aligned to 32.
        assert_eq!(size_of::<PhysdevMapPirq>(), 40);
        assert_eq!(offset_of!(PhysdevMapPirq, type_), 4);
        assert_eq!(offset_of!(PhysdevMapPirq, pirq), 12);
        assert_eq!(offset_of!(PhysdevMapPirq, entry_nr), 24);
        assert_eq!(offset_of!(PhysdevMapPirq, table_base), 32);
        assert_eq!(size_of::<PhysdevUnmapPirq>(), 8);
        assert_eq!(offset_of!(PhysdevUnmapPirq, pirq), 4);
    }
}
