//! Which ctx accesses a program type allows (the kernel's
//! `is_valid_access` callbacks, reported by the verifier as `invalid
//! bpf_context access off=%d size=%d`) and what a valid load yields.

use super::{skb, xdp, ProgType};

/// What a valid ctx access yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loaded {
    /// A number (`SCALAR_VALUE`).
    Scalar,
    /// `PTR_TO_PACKET`: the first byte of packet data.
    PacketStart,
    /// `PTR_TO_PACKET_END`: one past the last byte.
    PacketEnd,
    /// `PTR_TO_PACKET_META`: the start of the metadata before the data.
    PacketMeta,
    /// `PTR_TO_SOCK_COMMON_OR_NULL` (`__sk_buff->sk`): not modeled.
    Socket,
}

/// The largest ctx offset a `syscall` program may touch (`U16_MAX`).
const SYSCALL_MAX_OFF: i64 = 0xffff;

/// The kernel's `is_valid_access` for `prog_type`: `off` (the register's
/// fixed offset plus the instruction's), `size` bytes, read or write.
/// `None`: refused. `Input` has no ctx (always `None`).
pub fn valid_access(prog_type: ProgType, off: i64, size: usize, write: bool) -> Option<Loaded> {
    match prog_type {
        ProgType::Input => None,
        ProgType::SocketFilter => skb::socket_filter_valid(off, size, write),
        ProgType::SchedCls => skb::tc_valid(off, size, write),
        ProgType::Xdp => xdp::valid(off, size, write),
        ProgType::Syscall => ((0..SYSCALL_MAX_OFF).contains(&off) && off % size as i64 == 0)
            .then_some(Loaded::Scalar),
    }
}

/// The size of the ctx structure (`None` for `syscall`, whose ctx is as
/// large as the caller makes it, and for `Input`).
pub fn ctx_size(prog_type: ProgType) -> Option<usize> {
    match prog_type {
        ProgType::SocketFilter | ProgType::SchedCls => Some(skb::SIZE),
        ProgType::Xdp => Some(xdp::SIZE),
        ProgType::Input | ProgType::Syscall => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // net/core/filter.c, bpf_skb_is_valid_access: `len` reads of 1, 2
    // and 4 bytes (narrow loads), never 8; `data` only as a 4-byte read.
    #[test]
    fn skb_narrow_loads_and_pointer_fields() {
        let t = ProgType::SchedCls;
        for size in [1, 2, 4] {
            assert_eq!(valid_access(t, 0, size, false), Some(Loaded::Scalar));
        }
        assert_eq!(valid_access(t, 0, 8, false), None);
        assert_eq!(valid_access(t, 76, 4, false), Some(Loaded::PacketStart));
        assert_eq!(valid_access(t, 80, 4, false), Some(Loaded::PacketEnd));
        assert_eq!(valid_access(t, 76, 2, false), None);
        assert_eq!(valid_access(t, 77, 1, false), None);
        // Socket filters see no packet pointers and write only cb[].
        let s = ProgType::SocketFilter;
        assert_eq!(valid_access(s, 76, 4, false), None);
        assert_eq!(valid_access(s, 8, 4, true), None);
        assert_eq!(valid_access(s, 48, 4, true), Some(Loaded::Scalar));
        assert_eq!(valid_access(t, 8, 4, true), Some(Loaded::Scalar));
    }

    // xdp_is_valid_access: 4-byte reads only; no writes; no egress_ifindex.
    #[test]
    fn xdp_fields() {
        let x = ProgType::Xdp;
        assert_eq!(valid_access(x, 0, 4, false), Some(Loaded::PacketStart));
        assert_eq!(valid_access(x, 8, 4, false), Some(Loaded::PacketMeta));
        assert_eq!(valid_access(x, 12, 4, false), Some(Loaded::Scalar));
        assert_eq!(valid_access(x, 12, 2, false), None);
        assert_eq!(valid_access(x, 20, 4, false), None);
        assert_eq!(valid_access(x, 12, 4, true), None);
        assert_eq!(valid_access(x, 24, 4, false), None);
    }
}
