//! The maps of a program with `-- maps` (docs/program-types.md, "Maps"):
//! created as real kernel maps, filled with the initial contents, the
//! program's `ld_imm64` src=1/src=2 map indices patched to their fds, and
//! read back after the run. PERCPU_ARRAY maps get the initial value on
//! every CPU; the run is pinned to CPU 0 ([`on_cpu0`]) and CPU 0's copy
//! is read back, matching the engine's one CPU.
//!
//! A PROG_ARRAY is created empty: its `self` slots can only be filled
//! with the program's fd, so after the load ([`UserMaps::fill_programs`]).
//! Its slots are not read back (a slot reads as a program id; see
//! `crate::map_contents`).

use crate::map_contents::{Element, MapContents};
use bpfdiff_engine::maps::{MapDef, MapType as EngineMapType};
use bpfdiff_engine::Insn;
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// The kernel maps of one program.
pub struct UserMaps {
    defs: Vec<MapDef>,
    handles: Vec<MapHandle>,
}

fn kernel_type(t: EngineMapType) -> MapType {
    match t {
        EngineMapType::Array => MapType::Array,
        EngineMapType::Hash => MapType::Hash,
        EngineMapType::PercpuArray => MapType::PercpuArray,
        EngineMapType::LruHash => MapType::LruHash,
        EngineMapType::ProgArray => MapType::ProgArray,
    }
}

fn possible_cpus() -> Result<usize, String> {
    libbpf_rs::num_possible_cpus().map_err(|e| format!("cannot count CPUs: {e}"))
}

impl UserMaps {
    /// Creates the maps of `defs` and fills them.
    pub fn create(defs: &[MapDef]) -> Result<UserMaps, String> {
        let mut handles = Vec::new();
        for (i, d) in defs.iter().enumerate() {
            let opts = libbpf_sys::bpf_map_create_opts {
                sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
                ..Default::default()
            };
            let h = MapHandle::create(
                kernel_type(d.map_type),
                Some(format!("bpfdiff_map{i}")),
                d.key_size,
                d.value_size,
                d.max_entries,
                &opts,
            )
            .map_err(|e| format!("map {i}: cannot create a {} map: {e}", d.map_type))?;
            // A prog_array's slots get the program after it is loaded.
            let elements = if d.map_type == EngineMapType::ProgArray {
                &[][..]
            } else {
                &d.elements[..]
            };
            for (k, v) in elements {
                let r = if d.map_type == EngineMapType::PercpuArray {
                    let n = possible_cpus()?;
                    h.update_percpu(k, &vec![v.clone(); n], MapFlags::ANY)
                } else {
                    h.update(k, v, MapFlags::ANY)
                };
                r.map_err(|e| format!("map {i}: cannot fill key {k:02x?}: {e}"))?;
            }
            handles.push(h);
        }
        Ok(UserMaps {
            defs: defs.to_vec(),
            handles,
        })
    }

    /// `insns` with each `ld_imm64` src=1/src=2 map index replaced by that
    /// map's fd. An index without a map is an error naming the slot.
    pub fn patch(&self, insns: &[Insn]) -> Result<Vec<Insn>, String> {
        let mut out = insns.to_vec();
        let mut pc = 0;
        while pc < out.len() {
            let i = out[pc];
            if i.opcode == 0x18 {
                if matches!(i.src, 1 | 2) {
                    let h = self.handles.get(i.imm as u32 as usize).ok_or_else(|| {
                        format!(
                            "insn {pc}: ld_imm64 names map {} but there are {} maps",
                            i.imm,
                            self.handles.len()
                        )
                    })?;
                    out[pc].imm = h.as_fd().as_raw_fd();
                }
                pc += 2;
            } else {
                pc += 1;
            }
        }
        Ok(out)
    }

    /// Puts the loaded program `prog` into every slot its prog_arrays
    /// name (`self`; a test has that one program).
    pub fn fill_programs(&self, prog: BorrowedFd<'_>) -> Result<(), String> {
        let fd = prog.as_raw_fd() as u32;
        for (i, (d, h)) in self.defs.iter().zip(&self.handles).enumerate() {
            if d.map_type != EngineMapType::ProgArray {
                continue;
            }
            for (k, _) in &d.elements {
                h.update(k, &fd.to_le_bytes(), MapFlags::ANY).map_err(|e| {
                    format!("map {i}: cannot put the program into slot {k:02x?}: {e}")
                })?;
            }
        }
        Ok(())
    }

    /// Every map's contents (CPU 0's copy of a per-CPU value); a
    /// prog_array has none (its slots are not compared).
    pub fn read(&self) -> Result<Vec<MapContents>, String> {
        let mut out = Vec::new();
        for (i, (d, h)) in self.defs.iter().zip(&self.handles).enumerate() {
            if d.map_type == EngineMapType::ProgArray {
                out.push(MapContents::default());
                continue;
            }
            let keys: Vec<Vec<u8>> = if d.map_type.is_array() {
                (0..d.max_entries)
                    .map(|k| k.to_le_bytes().to_vec())
                    .collect()
            } else {
                h.keys().collect()
            };
            let mut elements = Vec::new();
            for key in keys {
                let value = if d.map_type == EngineMapType::PercpuArray {
                    h.lookup_percpu(&key, MapFlags::ANY)
                        .map(|v| v.and_then(|per_cpu| per_cpu.into_iter().next()))
                } else {
                    h.lookup(&key, MapFlags::ANY)
                }
                .map_err(|e| format!("map {i}: cannot read key {key:02x?}: {e}"))?;
                if let Some(mut value) = value {
                    value.truncate(d.value_size as usize);
                    elements.push(Element {
                        key,
                        value,
                        derived: Vec::new(),
                    });
                }
            }
            elements.sort_by(|a, b| a.key.cmp(&b.key));
            out.push(MapContents {
                elements,
                keys_opaque: false,
            });
        }
        Ok(out)
    }
}

/// Runs `f` with the calling thread pinned to CPU 0 (restoring its
/// affinity after), so that a per-CPU map's CPU 0 copy is the one the
/// program used.
pub fn on_cpu0<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: cpu_set_t is plain data; sched_{get,set}affinity(0, ..)
    // act on the calling thread with a set of the size given.
    unsafe {
        let mut old: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        let had = libc::sched_getaffinity(0, size, &mut old) == 0;
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut one);
        libc::sched_setaffinity(0, size, &one);
        let r = f();
        if had {
            libc::sched_setaffinity(0, size, &old);
        }
        r
    }
}
