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

/// `XDP_PACKET_HEADROOM` (include/uapi/linux/bpf.h): the headroom
/// `bpf_prog_test_run_xdp` (net/bpf/test_run.c) reserves before the
/// packet when no `ctx_in` asks for metadata.
pub const HEADROOM: usize = 256;
/// `sizeof(struct xdp_frame)` on x86-64 (include/net/xdp.h): the start of
/// the headroom `bpf_xdp_adjust_head` may not move `data` into. Measured
/// on Linux 6.18: a 64-byte packet's `data` moves down by at most 216
/// bytes (`HEADROOM - 40`).
pub const XDP_FRAME_SIZE: usize = 40;
/// The frame a test run builds: one page (`frame_sz` = `PAGE_SIZE`).
pub const FRAME_SZ: usize = 4096;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` on x86-64: the
/// tailroom `xdp_data_hard_end` keeps at the end of the frame. Measured on
/// Linux 6.18: a 64-byte packet's `data_end` grows by at most 3,456 bytes
/// (`FRAME_SZ - SHARED_INFO_SIZE - HEADROOM - 64`).
pub const SHARED_INFO_SIZE: usize = 320;
/// The longest packet a test run keeps in one frame
/// (`FRAME_SZ - HEADROOM - SHARED_INFO_SIZE`): longer ones get fragments,
/// which the engine does not model.
pub const MAX_LINEAR_PACKET: usize = FRAME_SZ - HEADROOM - SHARED_INFO_SIZE;
/// `ETH_HLEN`: the XDP helpers keep at least this many packet bytes.
pub const ETH_HLEN: usize = 14;

/// The frame buffer of a test run on `packet`, with the range of its
/// linear part in it: zeroed headroom (the kernel's buffer is
/// zero-allocated), the packet's first [`MAX_LINEAR_PACKET`] bytes, and
/// zeroed tailroom up to `xdp_data_hard_end`. The rest of a longer packet
/// goes to fragments (`bpf_prog_test_run_xdp`), which direct packet
/// access does not reach: measured on Linux 6.18, a 4,000-byte packet
/// runs with `data_end - data` = 3,520.
pub fn test_run_frame(packet: &[u8]) -> (Vec<u8>, std::ops::Range<usize>) {
    let linear = packet.len().min(MAX_LINEAR_PACKET);
    let end = HEADROOM + linear;
    let mut frame = vec![0u8; FRAME_SZ - SHARED_INFO_SIZE];
    frame[HEADROOM..end].copy_from_slice(&packet[..linear]);
    (frame, HEADROOM..end)
}
