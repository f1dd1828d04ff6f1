//! The Multiboot header and 32-bit entry: from the boot loader to long mode and `xen_start`.
//!
//! QEMU's (and GRUB's) Multiboot loader jumps to `_start32` in 32-bit protected mode with
//! paging off, `eax` = the Multiboot magic and `ebx` = the physical address of the
//! information structure. The code below maps the first GiB twice (identity and at the direct
//! map), enables long mode with NX and `syscall`, and jumps to `xen_start_64` in the direct map.

use core::arch::global_asm;

global_asm!(
    r#"
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000003          /* modules page-aligned, memory map wanted */
    .set DIRECTMAP_SLOT, 262

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .boot.text, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    movl %eax, %esi                    /* Multiboot magic */
    movl %ebx, %edi                    /* Multiboot information */

    /* PML4[0] and PML4[262] -> one PDPT; PDPT[0] -> PD of 512 x 2 MiB pages. */
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    movl %eax, boot_pml4 + DIRECTMAP_SLOT * 8
    movl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, boot_pd(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    movl %cr4, %eax
    orl $0x20, %eax                    /* PAE */
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3

    /* EFER: SCE | LME, and NXE when the CPU has NX. */
    movl %esi, %ebp
    movl $0x80000001, %eax
    cpuid
    movl $0x101, %ebx
    btl $20, %edx
    jnc 2f
    orl $0x800, %ebx
2:  movl $0xC0000080, %ecx
    rdmsr
    orl %ebx, %eax
    wrmsr
    movl %ebp, %esi

    movl %cr0, %eax
    orl $0x80050001, %eax              /* PG | AM | WP | PE (AM as Xen: guest user code may opt into #AC) */
    movl %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $boot_long_mode

    .code64
boot_long_mode:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    movl %edi, %edi                    /* zero-extend both arguments */
    movl %esi, %esi
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movabsq $xen_start_64, %rax
    call *%rax                         /* call, not jmp: Rust expects rsp = 8 mod 16 on entry */

    .section .boot.data, "aw"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff           /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff           /* 0x10: data */
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .long boot_gdt

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096

    .section .bss.boot_stack, "aw", @nobits
    .balign 4096
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .global boot_stack_top
boot_stack_top:
"#,
    options(att_syntax)
);
