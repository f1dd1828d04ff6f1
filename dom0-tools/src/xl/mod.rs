//! The `xl` shell's hardware-free parts: command parsing, domain lookup, output formats, line editing.

pub mod block_list;
pub mod cmd_table;
pub mod command;
pub mod cpu_mask;
pub mod dom_resolve;
pub mod domain_name;
pub mod info;
pub mod line_editor;
pub mod list;
pub mod mem_size;
pub mod network;
pub mod sched_credit;
pub mod sched_params;
pub mod state;
pub mod top;
pub mod uptime;
pub mod vcpu_list;
