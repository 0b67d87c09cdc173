//! The ctx offset symbols BPF selftests pass to their inline assembly
//! (`__imm_const(__sk_buff_data, offsetof(struct __sk_buff, data))`, used
//! as `%[__sk_buff_data]`): `__sk_buff_FIELD` and `xdp_md_FIELD`, with
//! array elements as `FIELD_N` (`__sk_buff_cb_0`). The kernel assembly
//! reader resolves them to the `offsetof` they stand for.

use super::{skb, xdp};

/// `struct __sk_buff` fields by name.
const SKB: &[(&str, usize)] = &[
    ("len", skb::LEN),
    ("pkt_type", skb::PKT_TYPE),
    ("mark", skb::MARK),
    ("queue_mapping", skb::QUEUE_MAPPING),
    ("protocol", skb::PROTOCOL),
    ("vlan_present", skb::VLAN_PRESENT),
    ("vlan_tci", skb::VLAN_TCI),
    ("vlan_proto", skb::VLAN_PROTO),
    ("priority", skb::PRIORITY),
    ("ingress_ifindex", skb::INGRESS_IFINDEX),
    ("ifindex", skb::IFINDEX),
    ("tc_index", skb::TC_INDEX),
    ("cb", skb::CB),
    ("hash", skb::HASH),
    ("tc_classid", skb::TC_CLASSID),
    ("data", skb::DATA),
    ("data_end", skb::DATA_END),
    ("napi_id", skb::NAPI_ID),
    ("family", skb::FAMILY),
    ("remote_ip4", skb::REMOTE_IP4),
    ("local_ip4", skb::LOCAL_IP4),
    ("remote_ip6", skb::REMOTE_IP6),
    ("local_ip6", skb::LOCAL_IP6),
    ("remote_port", skb::REMOTE_PORT),
    ("local_port", skb::LOCAL_PORT),
    ("data_meta", skb::DATA_META),
    ("flow_keys", skb::FLOW_KEYS),
    ("tstamp", skb::TSTAMP),
    ("wire_len", skb::WIRE_LEN),
    ("gso_segs", skb::GSO_SEGS),
    ("sk", skb::SK),
    ("gso_size", skb::GSO_SIZE),
    ("tstamp_type", skb::TSTAMP_TYPE),
    ("hwtstamp", skb::HWTSTAMP),
];

/// `struct xdp_md` fields by name.
const XDP: &[(&str, usize)] = &[
    ("data", xdp::DATA),
    ("data_end", xdp::DATA_END),
    ("data_meta", xdp::DATA_META),
    ("ingress_ifindex", xdp::INGRESS_IFINDEX),
    ("rx_queue_index", xdp::RX_QUEUE_INDEX),
    ("egress_ifindex", xdp::EGRESS_IFINDEX),
];

/// The offset a ctx symbol stands for (`None` for any other name).
pub fn ctx_offset(symbol: &str) -> Option<i64> {
    let (table, field) = if let Some(f) = symbol.strip_prefix("__sk_buff_") {
        (SKB, f)
    } else if let Some(f) = symbol.strip_prefix("xdp_md_") {
        (XDP, f)
    } else {
        return None;
    };
    if let Some(&(_, off)) = table.iter().find(|(n, _)| *n == field) {
        return Some(off as i64);
    }
    // An array element: `cb_3`, `remote_ip6_1` (u32 elements).
    let (base, index) = field.rsplit_once('_')?;
    let index: usize = index.parse().ok()?;
    let (&(_, off), len) = match base {
        "cb" => (table.iter().find(|(n, _)| *n == "cb")?, 5),
        "remote_ip6" | "local_ip6" => (table.iter().find(|(n, _)| *n == base)?, 4),
        _ => return None,
    };
    (index < len).then_some((off + 4 * index) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // include/uapi/linux/bpf.h: offsetof(struct __sk_buff, data) = 76,
    // cb[2] = 56; offsetof(struct xdp_md, data_end) = 4.
    #[test]
    fn selftest_symbols_resolve_to_offsetof() {
        assert_eq!(ctx_offset("__sk_buff_data"), Some(76));
        assert_eq!(ctx_offset("__sk_buff_cb_2"), Some(56));
        assert_eq!(ctx_offset("__sk_buff_cb_5"), None);
        assert_eq!(ctx_offset("xdp_md_data_end"), Some(4));
        assert_eq!(ctx_offset("bpf_map_lookup_elem"), None);
    }
}
