//! `struct __sk_buff` (include/uapi/linux/bpf.h, Linux 6.18): the ctx of
//! socket filters and tc programs. Field offsets, which accesses
//! `bpf_skb_is_valid_access`, `sk_filter_is_valid_access` and
//! `tc_cls_act_is_valid_access` (net/core/filter.c) allow, and the value
//! of each field in a `BPF_PROG_TEST_RUN` (`bpf_prog_test_run_skb`,
//! net/bpf/test_run.c; measured on this kernel, see
//! oracle/tests/prog_types_vs_kernel.rs).

use super::ctx::Loaded;

/// `sizeof(struct __sk_buff)`.
pub const SIZE: usize = 192;

/// `len`.
pub const LEN: usize = 0;
/// `pkt_type`.
pub const PKT_TYPE: usize = 4;
/// `mark`.
pub const MARK: usize = 8;
/// `queue_mapping`.
pub const QUEUE_MAPPING: usize = 12;
/// `protocol` (network byte order in the low 16 bits).
pub const PROTOCOL: usize = 16;
/// `vlan_present`.
pub const VLAN_PRESENT: usize = 20;
/// `vlan_tci`.
pub const VLAN_TCI: usize = 24;
/// `vlan_proto`.
pub const VLAN_PROTO: usize = 28;
/// `priority`.
pub const PRIORITY: usize = 32;
/// `ingress_ifindex`.
pub const INGRESS_IFINDEX: usize = 36;
/// `ifindex`.
pub const IFINDEX: usize = 40;
/// `tc_index`.
pub const TC_INDEX: usize = 44;
/// `cb[0]` (`cb[5]` runs to 68).
pub const CB: usize = 48;
/// One past `cb[4]`.
pub const CB_END: usize = 68;
/// `hash`.
pub const HASH: usize = 68;
/// `tc_classid`.
pub const TC_CLASSID: usize = 72;
/// `data`.
pub const DATA: usize = 76;
/// `data_end`.
pub const DATA_END: usize = 80;
/// `napi_id`.
pub const NAPI_ID: usize = 84;
/// `family` (first of the sk_skb-only fields, through `local_port`).
pub const FAMILY: usize = 88;
/// `remote_ip4`.
pub const REMOTE_IP4: usize = 92;
/// `local_ip4`.
pub const LOCAL_IP4: usize = 96;
/// `remote_ip6[0]`.
pub const REMOTE_IP6: usize = 100;
/// `local_ip6[0]`.
pub const LOCAL_IP6: usize = 116;
/// `remote_port`.
pub const REMOTE_PORT: usize = 132;
/// `local_port` (last of the sk_skb-only fields).
pub const LOCAL_PORT: usize = 136;
/// `data_meta`.
pub const DATA_META: usize = 140;
/// `flow_keys` (a pointer, 8 bytes).
pub const FLOW_KEYS: usize = 144;
/// `tstamp` (u64).
pub const TSTAMP: usize = 152;
/// `wire_len`.
pub const WIRE_LEN: usize = 160;
/// `gso_segs`.
pub const GSO_SEGS: usize = 164;
/// `sk` (a pointer, 8 bytes).
pub const SK: usize = 168;
/// `gso_size`.
pub const GSO_SIZE: usize = 176;
/// `tstamp_type` (u8, then 3 bytes of padding).
pub const TSTAMP_TYPE: usize = 180;
/// `hwtstamp` (u64).
pub const HWTSTAMP: usize = 184;

/// True when `off` lies in `[start, start + len)`.
fn within(off: usize, start: usize, len: usize) -> bool {
    (start..start + len).contains(&off)
}

/// `bpf_skb_is_valid_access`: the checks every `__sk_buff` type shares.
fn skb_valid(off: i64, size: usize, write: bool) -> Option<Loaded> {
    if off < 0 || off >= SIZE as i64 {
        return None;
    }
    let off = off as usize;
    if off % size != 0 {
        return None;
    }
    if within(off, CB, CB_END - CB) {
        return (off + size <= CB_END).then_some(Loaded::Scalar);
    }
    if within(off, REMOTE_IP6, 16)
        || within(off, LOCAL_IP6, 16)
        || within(off, REMOTE_IP4, 4)
        || within(off, LOCAL_IP4, 4)
        || within(off, DATA, 4)
        || within(off, DATA_META, 4)
        || within(off, DATA_END, 4)
    {
        return (size == 4).then_some(Loaded::Scalar);
    }
    if within(off, FLOW_KEYS, 8) {
        return None;
    }
    if within(off, HWTSTAMP, 8) {
        return (!write && size == 8).then_some(Loaded::Scalar);
    }
    if within(off, TSTAMP, 8) {
        return (size == 8).then_some(Loaded::Scalar);
    }
    if within(off, SK, 8) {
        return (!write && size == 8).then_some(Loaded::Socket);
    }
    if off == TSTAMP_TYPE || within(off, TSTAMP_TYPE + 1, HWTSTAMP - TSTAMP_TYPE - 1) {
        return None;
    }
    // Every other field is a u32: writes of the whole word, narrow reads.
    if write {
        (size == 4).then_some(Loaded::Scalar)
    } else {
        (size <= 4 && size.is_power_of_two()).then_some(Loaded::Scalar)
    }
}

/// `sk_filter_is_valid_access`: socket filters read most fields and
/// write only `cb[]`; no packet pointers.
pub fn socket_filter_valid(off: i64, size: usize, write: bool) -> Option<Loaded> {
    if off >= 0 {
        let o = off as usize;
        if within(o, TC_CLASSID, 4)
            || within(o, DATA, 4)
            || within(o, DATA_META, 4)
            || within(o, DATA_END, 4)
            || within(o, FAMILY, LOCAL_PORT + 4 - FAMILY)
            || within(o, TSTAMP, 8)
            || within(o, WIRE_LEN, 4)
            || within(o, HWTSTAMP, 8)
        {
            return None;
        }
        if write && !within(o, CB, CB_END - CB) {
            return None;
        }
    }
    skb_valid(off, size, write)
}

/// `tc_cls_act_is_valid_access`: tc programs write `mark`, `tc_index`,
/// `priority`, `tc_classid`, `cb[]`, `tstamp`, `queue_mapping`, and read
/// `data`/`data_meta`/`data_end` as packet pointers.
pub fn tc_valid(off: i64, size: usize, write: bool) -> Option<Loaded> {
    if off >= 0 {
        let o = off as usize;
        if write
            && !(within(o, MARK, 4)
                || within(o, TC_INDEX, 4)
                || within(o, PRIORITY, 4)
                || within(o, TC_CLASSID, 4)
                || within(o, CB, CB_END - CB)
                || within(o, TSTAMP, 8)
                || within(o, QUEUE_MAPPING, 4))
        {
            return None;
        }
        if within(o, FAMILY, LOCAL_PORT + 4 - FAMILY) {
            return None;
        }
        if o == TSTAMP_TYPE {
            return (size == 1).then_some(Loaded::Scalar);
        }
        let kind = if within(o, DATA, 4) {
            Some(Loaded::PacketStart)
        } else if within(o, DATA_META, 4) {
            Some(Loaded::PacketMeta)
        } else if within(o, DATA_END, 4) {
            Some(Loaded::PacketEnd)
        } else {
            None
        };
        if let Some(kind) = kind {
            return skb_valid(off, size, write).map(|_| kind);
        }
    }
    skb_valid(off, size, write)
}

/// The fields whose test-run value depends on state the harness cannot
/// know (a random flow-hash seed): loads of them are opaque.
pub const OPAQUE: &[(usize, usize)] = &[(HASH, 4)];

/// The ctx bytes a `BPF_PROG_TEST_RUN` gives a program of a packet of
/// `packet_len` bytes (without `ctx_in`). `tc` is l2 (`len` counts the
/// Ethernet header); a socket filter sees the packet from its network
/// header (`eth_type_trans` pulled 14 bytes). Measured on Linux 6.18.
pub fn test_run_ctx(packet: &[u8], tc: bool) -> Vec<u8> {
    let mut ctx = vec![0u8; SIZE];
    let mut put = |off: usize, v: u32| ctx[off..off + 4].copy_from_slice(&v.to_le_bytes());
    let visible = if tc {
        packet.len()
    } else {
        packet.len().saturating_sub(ETH_HLEN)
    };
    put(LEN, visible as u32);
    put(PKT_TYPE, pkt_type(packet));
    put(PROTOCOL, u32::from(eth_protocol(packet)));
    put(IFINDEX, 1);
    put(INGRESS_IFINDEX, 0);
    put(WIRE_LEN, 0);
    put(GSO_SEGS, 0);
    ctx
}

/// `ETH_HLEN`.
pub const ETH_HLEN: usize = 14;

/// `eth_type_trans`'s `skb->pkt_type` for a packet arriving on the
/// loopback device (whose address and broadcast address are all zero):
/// `PACKET_HOST` (0) for a zero destination, `PACKET_MULTICAST` (2) for
/// a group address (ff:ff:ff:ff:ff:ff included), else
/// `PACKET_OTHERHOST` (3). Measured on Linux 6.18 (tests/cli_packet_campaign.rs).
fn pkt_type(packet: &[u8]) -> u32 {
    match packet.get(..6) {
        Some(dst) if dst.iter().all(|&b| b == 0) => 0,
        Some(dst) if dst[0] & 1 == 1 => 2,
        Some(_) => 3,
        None => 0,
    }
}

/// The size of the `sk_buff` member a u32 `__sk_buff` field is read from
/// (`*target_size` in `bpf_convert_ctx_access`, net/core/filter.c): 1 for
/// `pkt_type`, 2 for the u16 members, else 4.
pub fn target_size(field: usize) -> usize {
    match field {
        PKT_TYPE => 1,
        QUEUE_MAPPING | PROTOCOL | VLAN_TCI | VLAN_PROTO | TC_INDEX | TC_CLASSID | GSO_SEGS
        | GSO_SIZE => 2,
        _ => 4,
    }
}

/// A narrow load (`size` < 4) of the u32 field holding `off`, as the
/// kernel's rewrite gives it: a load at least as wide as the `sk_buff`
/// member ([`target_size`]) gives the member's value at any offset in the
/// word (a byte anywhere in `pkt_type`'s word, a u16 at `protocol + 2`);
/// a narrower one shifts by its offset in the word. Measured on Linux
/// 6.18 (`pkt_type`, `protocol`). `None`: an ordinary load of the bytes.
pub fn narrow_load(bytes: &[u8], off: usize, size: usize) -> Option<u64> {
    let base = off & !3;
    let t = target_size(base);
    if size >= 4 || t >= 4 || base + 4 > bytes.len() {
        return None;
    }
    let word = u32::from_le_bytes(bytes[base..base + 4].try_into().ok()?);
    let shift = if size >= t { 0 } else { (off - base) * 8 };
    let mask = (1u64 << (size * 8)) - 1;
    Some((u64::from(word) >> shift) & mask)
}

/// `eth_type_trans`'s `skb->protocol` as the u32 field holds it: the
/// big-endian EtherType read as stored (so `0x0800` reads as `0x0008`).
fn eth_protocol(packet: &[u8]) -> u16 {
    let proto = match packet.get(12..14) {
        Some(b) => u16::from_be_bytes([b[0], b[1]]),
        None => return 0,
    };
    // ETH_P_802_3_MIN: below it the field is a length, not a type.
    let host = if proto >= 0x0600 {
        proto
    } else if packet.get(14..16) == Some(&[0xff, 0xff]) {
        0x0001 // ETH_P_802_3
    } else {
        0x0004 // ETH_P_802_2
    };
    host.to_be()
}

/// What a store of `size` bytes at `off` leaves in the field (the kernel
/// keeps some fields in narrower `sk_buff` members): `None` when the store
/// leaves the field unchanged.
pub fn stored_value(off: usize, value: u64) -> Option<u64> {
    match off {
        TC_INDEX | TC_CLASSID => Some(value & 0xffff),
        // `queue_mapping` is a u16 and a value of NO_QUEUE_MAPPING
        // (0xffff) or more is not stored.
        QUEUE_MAPPING => (value < 0xffff).then_some(value),
        _ => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(dst: [u8; 6], ethertype: [u8; 2]) -> Vec<u8> {
        let mut p = vec![0u8; 60];
        p[..6].copy_from_slice(&dst);
        p[12..14].copy_from_slice(&ethertype);
        p
    }

    // Measured on Linux 6.18 (BPF_PROG_TEST_RUN of tc and socket filter
    // programs reading `pkt_type`): eth_type_trans on loopback gives
    // PACKET_HOST for a zero destination, PACKET_MULTICAST for a group
    // address (broadcast included: loopback's broadcast address is zero),
    // PACKET_OTHERHOST otherwise.
    #[test]
    fn pkt_type_follows_the_destination_address() {
        for (dst, expected) in [
            ([0u8; 6], 0u32),
            ([0x67, 0x52, 0x0a, 0x1e, 0x05, 0x15], 2),
            ([0xff; 6], 2),
            ([0x02, 0x52, 0x0a, 0x1e, 0x05, 0x15], 3),
        ] {
            let ctx = test_run_ctx(&packet(dst, [0x88, 0xb5]), true);
            assert_eq!(
                ctx[PKT_TYPE..PKT_TYPE + 4],
                expected.to_le_bytes(),
                "{dst:x?}"
            );
        }
    }

    // Measured on Linux 6.18: narrow loads of `pkt_type` (a 1-byte
    // member) give the value at every offset of its word; of `protocol`
    // (a u16 member, 0x0008 for IPv4), u16 loads at +0 and +2 give it and
    // byte loads shift by their offset in the word.
    #[test]
    fn narrow_loads_of_narrow_members() {
        let ctx = test_run_ctx(&packet([2, 0, 0, 0, 0, 1], [0x08, 0x00]), true);
        for (off, size, expected) in [
            (PKT_TYPE, 1, 3),
            (PKT_TYPE + 1, 1, 3),
            (PKT_TYPE + 3, 1, 3),
            (PKT_TYPE + 2, 2, 3),
            (PROTOCOL, 1, 8),
            (PROTOCOL + 1, 1, 0),
            (PROTOCOL + 2, 1, 0),
            (PROTOCOL + 2, 2, 8),
        ] {
            assert_eq!(narrow_load(&ctx, off, size), Some(expected), "{off} {size}");
        }
        // u32 members read their bytes.
        assert_eq!(narrow_load(&ctx, LEN + 1, 1), None);
        assert_eq!(narrow_load(&ctx, PKT_TYPE, 4), None);
    }
}
