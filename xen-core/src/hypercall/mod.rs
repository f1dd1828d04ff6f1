//! Hypercall handlers: each decodes its arguments into a typed request, then acts.

pub mod batch;
pub mod callback_op;
pub mod console_io;
pub mod debugreg;
pub mod dispatch;
pub mod domctl;
pub mod foreign;
pub mod fpu_taskswitch;
pub mod grant_table_op;
pub mod iret;
pub mod memory_op;
pub mod mmu_update;
pub mod mmuext_op;
pub mod multicall;
pub mod physdev_op;
pub mod sched_op;
pub mod set_gdt;
pub mod set_segment_base;
pub mod set_trap_table;
pub mod stack_switch;
pub mod sysctl;
pub mod update_descriptor;
pub mod update_va_mapping;
pub mod vm_assist;
pub mod xen_version;
