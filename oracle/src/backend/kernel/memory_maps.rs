//! One-entry ARRAY maps whose value is a program's input memory, one map
//! per value size, created once and reused across runs.

use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};

const KEY: [u8; 4] = 0u32.to_le_bytes();

/// The maps of one kernel backend.
#[derive(Default)]
pub struct MemoryMaps {
    by_size: HashMap<usize, MapHandle>,
}

fn create(value_size: usize) -> Result<MapHandle, String> {
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        ..Default::default()
    };
    MapHandle::create(
        MapType::Array,
        Some("bpfdiff_mem"),
        4,
        value_size as u32,
        1,
        &opts,
    )
    .map_err(|e| format!("cannot create a {value_size}-byte ARRAY map: {e}"))
}

impl MemoryMaps {
    /// Checks that `bpf()` is permitted by creating a small map.
    pub fn probe(&mut self) -> Result<(), String> {
        match create(8) {
            Ok(m) => {
                self.by_size.insert(8, m);
                Ok(())
            }
            Err(e) => Err(format!(
                "bpf() is not permitted here (run as root or with CAP_BPF): {e}"
            )),
        }
    }

    /// The fd of the map for `len` bytes of input (0 when there is none).
    pub fn fd_for(&mut self, len: usize) -> Result<i32, String> {
        if len == 0 {
            return Ok(0);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.by_size.entry(len) {
            slot.insert(create(len)?);
        }
        Ok(self.by_size[&len].as_fd().as_raw_fd())
    }

    /// Writes `input` as the value of its map.
    pub fn write(&mut self, input: &[u8]) -> Result<(), String> {
        if input.is_empty() {
            return Ok(());
        }
        self.fd_for(input.len())?;
        self.by_size[&input.len()]
            .update(&KEY, input, MapFlags::ANY)
            .map_err(|e| format!("BPF_MAP_UPDATE_ELEM failed: {e}"))
    }

    /// Reads back the value of the map for `len` bytes.
    pub fn read(&mut self, len: usize) -> Result<Vec<u8>, String> {
        if len == 0 {
            return Ok(Vec::new());
        }
        self.by_size[&len]
            .lookup(&KEY, MapFlags::ANY)
            .map_err(|e| format!("BPF_MAP_LOOKUP_ELEM failed: {e}"))?
            .ok_or_else(|| "BPF_MAP_LOOKUP_ELEM found no value".to_string())
    }
}
