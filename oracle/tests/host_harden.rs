//! `kernel-harden` on the host (oracle/src/backend/kernel/host_harden.rs):
//! with the opt-in, its loads are JIT-compiled with constant blinding
//! (`net.core.bpf_jit_harden=2`: the kernel's `bpf_jit_blind_constants`
//! rewrites every instruction with an immediate through `BPF_REG_AX`, so
//! the JIT image grows), plain `kernel` loads are not, the results agree,
//! and the sysctl has its old value afterwards.
//!
//! One test in its own binary: it sets the opt-in variable, which no other
//! test may see. Without `bpf()` (not root) it prints `SKIPPED` and returns.

use bpfdiff_engine::{Insn, Program};
use bpfdiff_oracle::backend::kernel::host_harden::{self, HardenedScope, OPT_IN_ENV};
use bpfdiff_oracle::backend::kernel::{loader, KernelBackend, KernelOptions};
use bpfdiff_oracle::backend::Backend;
use bpfdiff_oracle::Execution;
use std::os::fd::{AsRawFd, OwnedFd};

const SYSCTL: &str = "/proc/sys/net/core/bpf_jit_harden";

fn jited_len(fd: &OwnedFd) -> u32 {
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` is a zeroed bpf_prog_info of `len` bytes.
    let rc = unsafe {
        libbpf_sys::bpf_obj_get_info_by_fd(
            fd.as_raw_fd(),
            (&mut info as *mut libbpf_sys::bpf_prog_info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "bpf_obj_get_info_by_fd");
    info.jited_prog_len
}

#[test]
fn hardened_loads_blind_constants_plain_ones_do_not_and_the_sysctl_is_restored() {
    let plain = KernelBackend::new(KernelOptions::default());
    if let Some(why) = plain.unavailable() {
        // SAFETY: geteuid has no preconditions.
        assert!(unsafe { libc::geteuid() } != 0, "root but: {why}");
        println!("SKIPPED: {why}");
        return;
    }
    let before = std::fs::read_to_string(SYSCTL).unwrap();
    if before.trim() == "2" {
        println!("SKIPPED: bpf_jit_harden is 2 already on this host");
        return;
    }
    // Without the opt-in the backend refuses, naming the variable.
    std::env::remove_var(OPT_IN_ENV);
    let refused = KernelBackend::new(KernelOptions {
        harden: true,
        ..KernelOptions::default()
    });
    assert!(refused.unavailable().unwrap().contains(OPT_IN_ENV));
    std::env::set_var(OPT_IN_ENV, "1");
    host_harden::enable().unwrap();

    // r0 = 0x12345678; r0 += 0x1111; r0 ^= 0x55; exit
    let insns = vec![
        Insn::new(0xb7, 0, 0, 0, 0x1234_5678),
        Insn::new(0x07, 0, 0, 0, 0x1111),
        Insn::new(0xa7, 0, 0, 0, 0x55),
        Insn::new(0x95, 0, 0, 0, 0),
    ];
    let plain_fd = loader::load(&insns, 0).unwrap();
    let hardened_fd = {
        let _scope = HardenedScope::enter();
        loader::load(&insns, 0).unwrap()
    };
    assert!(
        jited_len(&hardened_fd) > jited_len(&plain_fd),
        "blinded image {} bytes, plain {}",
        jited_len(&hardened_fd),
        jited_len(&plain_fd)
    );
    assert_eq!(std::fs::read_to_string(SYSCTL).unwrap(), before);

    // Through the backends: the same r0, and the hardened one is named so.
    let program = Program::new(insns);
    let mut plain = plain;
    let mut hardened = KernelBackend::new(KernelOptions {
        harden: true,
        ..KernelOptions::default()
    });
    assert_eq!(hardened.unavailable(), None);
    assert_eq!(hardened.name(), "kernel-harden");
    let r0 = |o: bpfdiff_oracle::Outcome| match o.execution {
        Execution::Returned { r0, .. } => r0.bits,
        other => panic!("{other:?}"),
    };
    let a = r0(plain.run(&program, &[0; 8]));
    let b = r0(hardened.run(&program, &[0; 8]));
    assert_eq!(a, ((0x1234_5678u64 + 0x1111) ^ 0x55));
    assert_eq!(a, b);
    assert_eq!(std::fs::read_to_string(SYSCTL).unwrap(), before);
}
