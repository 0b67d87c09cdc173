//! `bpf_xdp_adjust_head` (helper 44) and `bpf_xdp_adjust_tail` (helper
//! 65) for XDP programs: they move `data` or `data_end` by `offset` (r2,
//! an `int`) within the test run's frame buffer and return 0, or -EINVAL
//! and change nothing (net/core/filter.c):
//!
//! - head: the new `data` must lie at or after the end of the `struct
//!   xdp_frame` at the buffer's start (plus any metadata; the engine's
//!   test runs have none) and at least `ETH_HLEN` bytes before `data_end`;
//!   `data_meta` moves with `data`.
//! - tail: the new `data_end` must lie at or before `xdp_data_hard_end`
//!   (the frame minus the `skb_shared_info` tailroom) and at least
//!   `ETH_HLEN` bytes after `data`; bytes a grow exposes are zeroed.
//!
//! The frame is the one `bpf_prog_test_run_xdp` builds (see
//! [`crate::prog_type::xdp::test_run_frame`]). A packet longer than its
//! linear part has fragments; `bpf_xdp_adjust_tail` then works on them
//! (`bpf_xdp_frags_increase_tail`/`_shrink_tail`), which the engine does
//! not model.
//!
//! Bytes the head uncovers keep what the buffer holds there: zeros of the
//! zero-allocated headroom, or packet bytes an earlier shrink hid.

use super::map_helpers::HelperFault;
use super::memory::Memory;
use super::provenance::Tag;
use super::FaultKind;
use crate::prog_type::xdp::{ETH_HLEN, XDP_FRAME_SIZE};

/// Helper id of `bpf_xdp_adjust_head`.
pub(super) const HELPER_XDP_ADJUST_HEAD: u64 = 44;
/// Helper id of `bpf_xdp_adjust_tail`.
pub(super) const HELPER_XDP_ADJUST_TAIL: u64 = 65;

/// `EINVAL`.
const EINVAL: i64 = 22;

/// True for the two helpers of this file.
pub(super) fn is_xdp_adjust(id: u64) -> bool {
    id == HELPER_XDP_ADJUST_HEAD || id == HELPER_XDP_ADJUST_TAIL
}

/// Runs helper `id` (one of this file's) with `offset` = r2: r0 and its
/// tag (a number: the result is 0 or -EINVAL, the same everywhere). A
/// tail adjustment of a packet with fragments (longer than
/// `MAX_LINEAR_PACKET`) is not modelled: it stops the run as unsupported.
pub(super) fn xdp_adjust(
    mem: &mut Memory<'_>,
    id: u64,
    offset: u64,
) -> Result<(u64, Tag), HelperFault> {
    if id == HELPER_XDP_ADJUST_TAIL && mem.xdp_has_frags() {
        return Err((FaultKind::Unsupported, id, 0));
    }
    // The helpers take an `int`: the low 32 bits, sign-extended.
    let offset = offset as u32 as i32 as i64;
    let (data, data_end) = mem.window();
    let (data, data_end) = (data as i64, data_end as i64);
    let ok = if id == HELPER_XDP_ADJUST_HEAD {
        let new = data + offset;
        let fits = new >= XDP_FRAME_SIZE as i64 && new <= data_end - ETH_HLEN as i64;
        if fits {
            mem.set_window(new as usize, data_end as usize, false);
        }
        fits
    } else {
        let new = data_end + offset;
        let fits = new <= mem.buffer_len() as i64 && new >= data + ETH_HLEN as i64;
        if fits {
            mem.set_window(data as usize, new as usize, true);
        }
        fits
    };
    Ok((if ok { 0 } else { (-EINVAL) as u64 }, 0))
}
