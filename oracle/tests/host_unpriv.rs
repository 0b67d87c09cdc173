//! `kernel-unpriv` on the host (oracle/src/backend/kernel/unpriv.rs): with
//! the opt-in, a socket filter is loaded by a child without capabilities
//! (uid `nobody`) while `kernel.unprivileged_bpf_disabled` is 0, and run on
//! the packet; the sysctl has its old value afterwards. The kernel's
//! unprivileged rules refuse what root may do: a program returning the
//! frame pointer is accepted for root and refused unprivileged (`R0 leaks
//! addr as return value`, measured on 6.18).
//!
//! One test in its own binary: it sets the opt-in variable, which no other
//! test may see. Without `bpf()` (not root) it prints `SKIPPED` and returns.

use bpfdiff_engine::prog_type::ProgType;
use bpfdiff_engine::Insn;
use bpfdiff_oracle::backend::kernel::host_sysctl::OPT_IN_ENV;
use bpfdiff_oracle::backend::kernel::native;
use bpfdiff_oracle::backend::kernel::unpriv::{self, UnprivOutcome};

const SYSCTL: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";

#[test]
fn unprivileged_loads_follow_the_unprivileged_rules_and_the_sysctl_is_restored() {
    let seven = [Insn::new(0xb7, 0, 0, 0, 7), Insn::new(0x95, 0, 0, 0, 0)];
    if let Err(e) = native::load(ProgType::SocketFilter, &seven, 0) {
        // SAFETY: geteuid has no preconditions.
        assert!(
            unsafe { libc::geteuid() } != 0,
            "root but bpf() refused: {}",
            e.errno
        );
        println!("SKIPPED: bpf() not permitted");
        return;
    }
    let before = std::fs::read_to_string(SYSCTL).unwrap();
    if before.trim() == "1" {
        println!("SKIPPED: {SYSCTL} is 1 (final until reboot)");
        return;
    }
    std::env::remove_var(OPT_IN_ENV);
    assert!(unpriv::enable().unwrap_err().contains(OPT_IN_ENV));
    std::env::set_var(OPT_IN_ENV, "1");

    let packet: Vec<u8> = (0..64u8).collect();
    match unpriv::load_and_run(&seven, &packet).unwrap() {
        UnprivOutcome::Ran { retval, data_out } => {
            assert_eq!(retval, 7);
            // bpf_prog_test_run_skb: a socket filter's skb was pulled past
            // the Ethernet header, which comes back zeroed (as privileged).
            assert_eq!(data_out[..14], [0; 14]);
            assert_eq!(data_out[14..], packet[14..]);
        }
        other => panic!("{other:?}"),
    }
    // r0 = r10; exit: root may return a pointer, an unprivileged user not.
    let leak = [Insn::new(0xbf, 0, 10, 0, 0), Insn::new(0x95, 0, 0, 0, 0)];
    assert!(native::load(ProgType::SocketFilter, &leak, 0).is_ok());
    match unpriv::load_and_run(&leak, &packet).unwrap() {
        UnprivOutcome::Refused { errno, log } => {
            assert_eq!(errno, libc::EACCES);
            assert!(log.contains("R0 leaks addr as return value"), "{log}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(SYSCTL).unwrap(), before);
}
