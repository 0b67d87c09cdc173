//! Map fds a program names that belong to the harness.
//!
//! `ld_imm64` with src = 1 (`BPF_PSEUDO_MAP_FD`) or 2
//! (`BPF_PSEUDO_MAP_VALUE`) carries a file descriptor in its `imm`, which
//! the kernel resolves in the loading process (`resolve_pseudo_ldimm64`).
//! In bpfdiff's process small fds are the kernel backend's own maps (the
//! input map of each size, other workers' maps in a campaign), so a
//! generated program that happens to name one gets a verdict that depends
//! on the harness, not on the program: the kernel resolves the fd where a
//! lone load of the program would say `fd N is not pointing to valid
//! bpf_map`. Such a program is not run on the kernel, with the reason.

use bpfdiff_engine::Program;

/// `ld_imm64`'s opcode byte.
const LD_IMM64: u8 = 0x18;
/// `BPF_PSEUDO_MAP_FD` and `BPF_PSEUDO_MAP_VALUE`.
const MAP_FD_SOURCES: [u8; 2] = [1, 2];

/// True when `fd` is an open bpf map of this process.
fn is_own_map(fd: i32) -> bool {
    fd >= 0
        && std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .is_ok_and(|target| target.as_os_str() == "anon_inode:bpf-map")
}

/// The reason not to load `program` on this process's kernel backend: it
/// names, by fd, a map that belongs to the harness. Slots are walked as the
/// kernel walks them (an `ld_imm64` takes two).
pub fn names_a_harness_map(program: &Program) -> Option<String> {
    let mut i = 0;
    while i < program.insns.len() {
        let slot = &program.insns[i];
        if slot.opcode == LD_IMM64 {
            if MAP_FD_SOURCES.contains(&slot.src) && is_own_map(slot.imm) {
                return Some(format!(
                    "insn {i}: ld_imm64 src={} names fd {}, which is one of the harness's own \
                     maps in this process: the kernel's verdict would depend on the harness",
                    slot.src, slot.imm
                ));
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfdiff_engine::insn::Insn;

    fn program_naming(fd: i32, src: u8) -> Program {
        Program::new(vec![
            Insn::new(LD_IMM64, 1, src, 0, fd),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(0xb7, 0, 0, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ])
    }

    #[test]
    fn a_program_naming_an_open_map_of_the_harness_is_held_back() {
        let mut backend = super::super::KernelBackend::new(Default::default());
        if let Some(why) = backend.unavailable() {
            eprintln!("SKIPPED: bpf() is not usable here: {why}");
            return;
        }
        // The backend creates its input map on the first run.
        let _ = crate::Backend::run(&mut backend, &Program::new(vec![]), &[0u8; 4]);
        let own = (0..1024)
            .find(|&fd| is_own_map(fd))
            .expect("the kernel backend holds a map");
        for src in MAP_FD_SOURCES {
            let why = names_a_harness_map(&program_naming(own, src)).expect("held back");
            assert!(why.contains(&format!("names fd {own}")), "{why}");
        }
        // src = 0 is a plain number; a closed fd is the program's business.
        assert_eq!(names_a_harness_map(&program_naming(own, 0)), None);
        assert_eq!(names_a_harness_map(&program_naming(100_000, 1)), None);
    }
}
