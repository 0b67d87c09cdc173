//! `struct xdp_md` (include/uapi/linux/bpf.h, Linux 6.18): the ctx of XDP
//! programs, the accesses `xdp_is_valid_access` (net/core/filter.c)
//! allows, and the values `bpf_prog_test_run_xdp` (net/bpf/test_run.c)
//! gives without `ctx_in`.

use super::ctx::Loaded;

/// `sizeof(struct xdp_md)`.
pub const SIZE: usize = 24;
/// `data`.
pub const DATA: usize = 0;
/// `data_end`.
pub const DATA_END: usize = 4;
/// `data_meta`.
pub const DATA_META: usize = 8;
/// `ingress_ifindex`.
pub const INGRESS_IFINDEX: usize = 12;
/// `rx_queue_index`.
pub const RX_QUEUE_INDEX: usize = 16;
/// `egress_ifindex` (readable only by devmap programs).
pub const EGRESS_IFINDEX: usize = 20;

/// `xdp_is_valid_access` for a program not attached to a devmap and not
/// offloaded: 4-byte reads of every field but `egress_ifindex`, no writes.
pub fn valid(off: i64, size: usize, write: bool) -> Option<Loaded> {
    if off == EGRESS_IFINDEX as i64 || write {
        return None;
    }
    if off < 0 || off >= SIZE as i64 || off % size as i64 != 0 || size != 4 {
        return None;
    }
    Some(match off as usize {
        DATA => Loaded::PacketStart,
        DATA_END => Loaded::PacketEnd,
        DATA_META => Loaded::PacketMeta,
        _ => Loaded::Scalar,
    })
}

/// The scalar fields of a test run without `ctx_in`: the packet arrives on
/// the loopback device (ifindex 1), queue 0.
pub fn test_run_ctx() -> Vec<u8> {
    let mut ctx = vec![0u8; SIZE];
    ctx[INGRESS_IFINDEX..INGRESS_IFINDEX + 4].copy_from_slice(&1u32.to_le_bytes());
    ctx
}
