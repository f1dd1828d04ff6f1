//! The Xen ELF notes (owner "Xen", in a PT_NOTE) that tell a PV domain builder how to load us.

use core::arch::global_asm;

use hypercall_abi::elfnote::{
    XEN_ELFNOTE_ENTRY, XEN_ELFNOTE_FEATURES, XEN_ELFNOTE_GUEST_OS, XEN_ELFNOTE_GUEST_VERSION,
    XEN_ELFNOTE_HYPERCALL_PAGE, XEN_ELFNOTE_LOADER, XEN_ELFNOTE_PADDR_OFFSET, XEN_ELFNOTE_PAE_MODE,
    XEN_ELFNOTE_SUPPORTED_FEATURES, XEN_ELFNOTE_VIRT_BASE, XEN_ELFNOTE_XEN_VERSION,
};
use hypercall_abi::features::XENFEAT_DOM0;

use super::layout::{PADDR_OFFSET, VIRT_BASE};

/// One note: name "Xen" (4 bytes with its NUL), the descriptor `$desc` (assembler data),
/// its type from the named `const` operand `$ty`; every part 4-byte aligned.
macro_rules! xen_note {
    ($ty:literal, $desc:expr) => {
        concat!(
            ".balign 4\n",
            ".long 4\n",
            ".long 8f - 7f\n",
            ".long {",
            $ty,
            "}\n",
            ".asciz \"Xen\"\n",
            ".balign 4\n",
            "7:\n",
            $desc,
            "\n8:\n",
            ".balign 4\n"
        )
    };
}

// Xen 4.17's PV Dom0 builder checks: LOADER starts with "generic" (or GUEST_OS with "linux"),
// XEN_VERSION starts with "xen-3.0", ENTRY lies inside the image, HYPERCALL_PAGE lies inside
// the initial mapping, and, when SUPPORTED_FEATURES is present, that it has XENFEAT_dom0.
// FEATURES names "dom0" as supported (no '!': nothing is required).
global_asm!(
    ".pushsection .note.Xen, \"a\", @note",
    xen_note!("guest_os", ".asciz \"pv-guest-kernel\""),
    xen_note!("guest_version", concat!(".asciz \"", env!("CARGO_PKG_VERSION"), "\"")),
    xen_note!("xen_version", ".asciz \"xen-3.0\""),
    xen_note!("loader", ".asciz \"generic\""),
    xen_note!("pae_mode", ".asciz \"yes\""),
    xen_note!("features", ".asciz \"dom0\""),
    xen_note!("supported_features", ".long {dom0_bit}"),
    xen_note!("virt_base", ".quad {virt_base_value}"),
    xen_note!("paddr_offset", ".quad {paddr_offset_value}"),
    xen_note!("entry", ".quad _start"),
    xen_note!("hypercall_page", ".quad hypercall_page"),
    ".popsection",
    guest_os = const XEN_ELFNOTE_GUEST_OS,
    guest_version = const XEN_ELFNOTE_GUEST_VERSION,
    xen_version = const XEN_ELFNOTE_XEN_VERSION,
    loader = const XEN_ELFNOTE_LOADER,
    pae_mode = const XEN_ELFNOTE_PAE_MODE,
    features = const XEN_ELFNOTE_FEATURES,
    supported_features = const XEN_ELFNOTE_SUPPORTED_FEATURES,
    virt_base = const XEN_ELFNOTE_VIRT_BASE,
    paddr_offset = const XEN_ELFNOTE_PADDR_OFFSET,
    entry = const XEN_ELFNOTE_ENTRY,
    hypercall_page = const XEN_ELFNOTE_HYPERCALL_PAGE,
    dom0_bit = const 1u32 << XENFEAT_DOM0,
    virt_base_value = const VIRT_BASE,
    paddr_offset_value = const PADDR_OFFSET,
);
