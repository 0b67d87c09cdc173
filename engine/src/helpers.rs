//! Kernel helper ids, the names the kernel prints for them, and the
//! prototypes (argument and return types, program types) of the helpers
//! the engine models: one table every component reads.
//!
//! The ids are the `BPF_FUNC_*` values of `enum bpf_func_id` in the kernel's
//! `include/uapi/linux/bpf.h` (stable ABI: ids are only ever appended); the
//! names are what `bpftool prog dump xlated` and the verifier log print in
//! `call bpf_trace_printk#6`, i.e. the enum name with a `bpf_` prefix.

/// Helper names indexed by helper id (`HELPER_NAMES[6] == "bpf_trace_printk"`).
///
/// Id 0 (`bpf_unspec`) is not a callable helper; it is listed because the
/// kernel's disassembler names it.
pub static HELPER_NAMES: &[&str] = &[
    "bpf_unspec",                         // 0
    "bpf_map_lookup_elem",                // 1
    "bpf_map_update_elem",                // 2
    "bpf_map_delete_elem",                // 3
    "bpf_probe_read",                     // 4
    "bpf_ktime_get_ns",                   // 5
    "bpf_trace_printk",                   // 6
    "bpf_get_prandom_u32",                // 7
    "bpf_get_smp_processor_id",           // 8
    "bpf_skb_store_bytes",                // 9
    "bpf_l3_csum_replace",                // 10
    "bpf_l4_csum_replace",                // 11
    "bpf_tail_call",                      // 12
    "bpf_clone_redirect",                 // 13
    "bpf_get_current_pid_tgid",           // 14
    "bpf_get_current_uid_gid",            // 15
    "bpf_get_current_comm",               // 16
    "bpf_get_cgroup_classid",             // 17
    "bpf_skb_vlan_push",                  // 18
    "bpf_skb_vlan_pop",                   // 19
    "bpf_skb_get_tunnel_key",             // 20
    "bpf_skb_set_tunnel_key",             // 21
    "bpf_perf_event_read",                // 22
    "bpf_redirect",                       // 23
    "bpf_get_route_realm",                // 24
    "bpf_perf_event_output",              // 25
    "bpf_skb_load_bytes",                 // 26
    "bpf_get_stackid",                    // 27
    "bpf_csum_diff",                      // 28
    "bpf_skb_get_tunnel_opt",             // 29
    "bpf_skb_set_tunnel_opt",             // 30
    "bpf_skb_change_proto",               // 31
    "bpf_skb_change_type",                // 32
    "bpf_skb_under_cgroup",               // 33
    "bpf_get_hash_recalc",                // 34
    "bpf_get_current_task",               // 35
    "bpf_probe_write_user",               // 36
    "bpf_current_task_under_cgroup",      // 37
    "bpf_skb_change_tail",                // 38
    "bpf_skb_pull_data",                  // 39
    "bpf_csum_update",                    // 40
    "bpf_set_hash_invalid",               // 41
    "bpf_get_numa_node_id",               // 42
    "bpf_skb_change_head",                // 43
    "bpf_xdp_adjust_head",                // 44
    "bpf_probe_read_str",                 // 45
    "bpf_get_socket_cookie",              // 46
    "bpf_get_socket_uid",                 // 47
    "bpf_set_hash",                       // 48
    "bpf_setsockopt",                     // 49
    "bpf_skb_adjust_room",                // 50
    "bpf_redirect_map",                   // 51
    "bpf_sk_redirect_map",                // 52
    "bpf_sock_map_update",                // 53
    "bpf_xdp_adjust_meta",                // 54
    "bpf_perf_event_read_value",          // 55
    "bpf_perf_prog_read_value",           // 56
    "bpf_getsockopt",                     // 57
    "bpf_override_return",                // 58
    "bpf_sock_ops_cb_flags_set",          // 59
    "bpf_msg_redirect_map",               // 60
    "bpf_msg_apply_bytes",                // 61
    "bpf_msg_cork_bytes",                 // 62
    "bpf_msg_pull_data",                  // 63
    "bpf_bind",                           // 64
    "bpf_xdp_adjust_tail",                // 65
    "bpf_skb_get_xfrm_state",             // 66
    "bpf_get_stack",                      // 67
    "bpf_skb_load_bytes_relative",        // 68
    "bpf_fib_lookup",                     // 69
    "bpf_sock_hash_update",               // 70
    "bpf_msg_redirect_hash",              // 71
    "bpf_sk_redirect_hash",               // 72
    "bpf_lwt_push_encap",                 // 73
    "bpf_lwt_seg6_store_bytes",           // 74
    "bpf_lwt_seg6_adjust_srh",            // 75
    "bpf_lwt_seg6_action",                // 76
    "bpf_rc_repeat",                      // 77
    "bpf_rc_keydown",                     // 78
    "bpf_skb_cgroup_id",                  // 79
    "bpf_get_current_cgroup_id",          // 80
    "bpf_get_local_storage",              // 81
    "bpf_sk_select_reuseport",            // 82
    "bpf_skb_ancestor_cgroup_id",         // 83
    "bpf_sk_lookup_tcp",                  // 84
    "bpf_sk_lookup_udp",                  // 85
    "bpf_sk_release",                     // 86
    "bpf_map_push_elem",                  // 87
    "bpf_map_pop_elem",                   // 88
    "bpf_map_peek_elem",                  // 89
    "bpf_msg_push_data",                  // 90
    "bpf_msg_pop_data",                   // 91
    "bpf_rc_pointer_rel",                 // 92
    "bpf_spin_lock",                      // 93
    "bpf_spin_unlock",                    // 94
    "bpf_sk_fullsock",                    // 95
    "bpf_tcp_sock",                       // 96
    "bpf_skb_ecn_set_ce",                 // 97
    "bpf_get_listener_sock",              // 98
    "bpf_skc_lookup_tcp",                 // 99
    "bpf_tcp_check_syncookie",            // 100
    "bpf_sysctl_get_name",                // 101
    "bpf_sysctl_get_current_value",       // 102
    "bpf_sysctl_get_new_value",           // 103
    "bpf_sysctl_set_new_value",           // 104
    "bpf_strtol",                         // 105
    "bpf_strtoul",                        // 106
    "bpf_sk_storage_get",                 // 107
    "bpf_sk_storage_delete",              // 108
    "bpf_send_signal",                    // 109
    "bpf_tcp_gen_syncookie",              // 110
    "bpf_skb_output",                     // 111
    "bpf_probe_read_user",                // 112
    "bpf_probe_read_kernel",              // 113
    "bpf_probe_read_user_str",            // 114
    "bpf_probe_read_kernel_str",          // 115
    "bpf_tcp_send_ack",                   // 116
    "bpf_send_signal_thread",             // 117
    "bpf_jiffies64",                      // 118
    "bpf_read_branch_records",            // 119
    "bpf_get_ns_current_pid_tgid",        // 120
    "bpf_xdp_output",                     // 121
    "bpf_get_netns_cookie",               // 122
    "bpf_get_current_ancestor_cgroup_id", // 123
    "bpf_sk_assign",                      // 124
    "bpf_ktime_get_boot_ns",              // 125
    "bpf_seq_printf",                     // 126
    "bpf_seq_write",                      // 127
    "bpf_sk_cgroup_id",                   // 128
    "bpf_sk_ancestor_cgroup_id",          // 129
    "bpf_ringbuf_output",                 // 130
    "bpf_ringbuf_reserve",                // 131
    "bpf_ringbuf_submit",                 // 132
    "bpf_ringbuf_discard",                // 133
    "bpf_ringbuf_query",                  // 134
    "bpf_csum_level",                     // 135
    "bpf_skc_to_tcp6_sock",               // 136
    "bpf_skc_to_tcp_sock",                // 137
    "bpf_skc_to_tcp_timewait_sock",       // 138
    "bpf_skc_to_tcp_request_sock",        // 139
    "bpf_skc_to_udp6_sock",               // 140
    "bpf_get_task_stack",                 // 141
    "bpf_load_hdr_opt",                   // 142
    "bpf_store_hdr_opt",                  // 143
    "bpf_reserve_hdr_opt",                // 144
    "bpf_inode_storage_get",              // 145
    "bpf_inode_storage_delete",           // 146
    "bpf_d_path",                         // 147
    "bpf_copy_from_user",                 // 148
    "bpf_snprintf_btf",                   // 149
    "bpf_seq_printf_btf",                 // 150
    "bpf_skb_cgroup_classid",             // 151
    "bpf_redirect_neigh",                 // 152
    "bpf_per_cpu_ptr",                    // 153
    "bpf_this_cpu_ptr",                   // 154
    "bpf_redirect_peer",                  // 155
    "bpf_task_storage_get",               // 156
    "bpf_task_storage_delete",            // 157
    "bpf_get_current_task_btf",           // 158
    "bpf_bprm_opts_set",                  // 159
    "bpf_ktime_get_coarse_ns",            // 160
    "bpf_ima_inode_hash",                 // 161
    "bpf_sock_from_file",                 // 162
    "bpf_check_mtu",                      // 163
    "bpf_for_each_map_elem",              // 164
    "bpf_snprintf",                       // 165
    "bpf_sys_bpf",                        // 166
    "bpf_btf_find_by_name_kind",          // 167
    "bpf_sys_close",                      // 168
    "bpf_timer_init",                     // 169
    "bpf_timer_set_callback",             // 170
    "bpf_timer_start",                    // 171
    "bpf_timer_cancel",                   // 172
    "bpf_get_func_ip",                    // 173
    "bpf_get_attach_cookie",              // 174
    "bpf_task_pt_regs",                   // 175
    "bpf_get_branch_snapshot",            // 176
    "bpf_trace_vprintk",                  // 177
    "bpf_skc_to_unix_sock",               // 178
    "bpf_kallsyms_lookup_name",           // 179
    "bpf_find_vma",                       // 180
    "bpf_loop",                           // 181
    "bpf_strncmp",                        // 182
    "bpf_get_func_arg",                   // 183
    "bpf_get_func_ret",                   // 184
    "bpf_get_func_arg_cnt",               // 185
    "bpf_get_retval",                     // 186
    "bpf_set_retval",                     // 187
    "bpf_xdp_get_buff_len",               // 188
    "bpf_xdp_load_bytes",                 // 189
    "bpf_xdp_store_bytes",                // 190
    "bpf_copy_from_user_task",            // 191
    "bpf_skb_set_tstamp",                 // 192
    "bpf_ima_file_hash",                  // 193
    "bpf_kptr_xchg",                      // 194
    "bpf_map_lookup_percpu_elem",         // 195
    "bpf_skc_to_mptcp_sock",              // 196
    "bpf_dynptr_from_mem",                // 197
    "bpf_ringbuf_reserve_dynptr",         // 198
    "bpf_ringbuf_submit_dynptr",          // 199
    "bpf_ringbuf_discard_dynptr",         // 200
    "bpf_dynptr_read",                    // 201
    "bpf_dynptr_write",                   // 202
    "bpf_dynptr_data",                    // 203
    "bpf_tcp_raw_gen_syncookie_ipv4",     // 204
    "bpf_tcp_raw_gen_syncookie_ipv6",     // 205
    "bpf_tcp_raw_check_syncookie_ipv4",   // 206
    "bpf_tcp_raw_check_syncookie_ipv6",   // 207
    "bpf_ktime_get_tai_ns",               // 208
    "bpf_user_ringbuf_drain",             // 209
    "bpf_cgrp_storage_get",               // 210
    "bpf_cgrp_storage_delete",            // 211
];

/// The name of helper `id` as the kernel prints it, if the id is known.
pub fn helper_name(id: i32) -> Option<&'static str> {
    usize::try_from(id)
        .ok()
        .and_then(|i| HELPER_NAMES.get(i))
        .copied()
}

/// The id of a helper given its name, with or without the `bpf_` prefix
/// (`"bpf_ktime_get_ns"` and `"ktime_get_ns"` both give 5).
pub fn helper_id(name: &str) -> Option<i32> {
    let short = name.strip_prefix("bpf_").unwrap_or(name);
    HELPER_NAMES
        .iter()
        .position(|n| n.strip_prefix("bpf_") == Some(short))
        .and_then(|i| i32::try_from(i).ok())
}

/// A helper argument's kind: the kernel's `enum bpf_arg_type`
/// (`include/linux/bpf.h`), for the kinds the engine's helpers take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    /// `ARG_CONST_MAP_PTR`: a map pointer from `ld_imm64` src=1.
    ConstMapPtr,
    /// `ARG_PTR_TO_MAP_KEY`: initialised memory of the map's `key_size`.
    PtrToMapKey,
    /// `ARG_PTR_TO_MAP_VALUE`: initialised memory of the map's `value_size`.
    PtrToMapValue,
    /// `ARG_ANYTHING`: any initialised value.
    Anything,
    /// `ARG_PTR_TO_CTX`: the program's ctx, unmodified.
    PtrToCtx,
    /// `ARG_PTR_TO_UNINIT_MEM`: writable memory whose size is the next
    /// argument.
    PtrToUninitMem,
    /// `ARG_CONST_SIZE`: a known, positive size of the previous argument.
    ConstSize,
    /// `ARG_CONST_SIZE_OR_ZERO`: a known size that may be 0.
    ConstSizeOrZero,
}

/// A helper's return type: the kernel's `enum bpf_return_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetType {
    /// `RET_INTEGER`: a scalar.
    Integer,
    /// `RET_VOID`: nothing (r0 is not readable afterwards).
    Void,
    /// `RET_PTR_TO_MAP_VALUE_OR_NULL`: a map value of the map in r1, or 0.
    PtrToMapValueOrNull,
}

/// Which program types may call a helper (the `*_func_proto` functions
/// of the kernel that hand out its proto).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Every type: `bpf_base_func_proto` (kernel/bpf/helpers.c) hands it
    /// to every program type (to a privileged loader).
    All,
    /// `socket_filter` and `sched_cls` (`sk_filter_func_proto`,
    /// `tc_cls_act_func_proto` in net/core/filter.c).
    Skb,
    /// `xdp` only (`xdp_func_proto`).
    Xdp,
}

impl Allowed {
    /// True when a program of `prog_type` may call the helper.
    pub fn admits(self, prog_type: ProgType) -> bool {
        match self {
            Allowed::All => true,
            Allowed::Skb => matches!(prog_type, ProgType::SocketFilter | ProgType::SchedCls),
            Allowed::Xdp => prog_type == ProgType::Xdp,
        }
    }
}

/// One helper's kernel prototype (`struct bpf_func_proto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperProto {
    /// The `BPF_FUNC_*` id.
    pub id: i32,
    /// The kernel's name (as [`HELPER_NAMES`] has it).
    pub name: &'static str,
    /// The argument kinds, r1 first (unused arguments are absent).
    pub args: &'static [ArgType],
    /// The return type.
    pub ret: RetType,
    /// The program types that may call it.
    pub allowed: Allowed,
    /// True when the engine's interpreter runs it (the packet and kernel-
    /// memory helpers only for the program types whose ctx they need:
    /// `bpf_skb_load_bytes` for socket filters and tc,
    /// `bpf_probe_read_kernel` for the native types, `bpf_tail_call` with
    /// a prog_array for the packet types, not the input model that the
    /// engine's JIT shares). The verifier models only these.
    pub runs: bool,
    /// The helper may move the packet's data (`bpf_helper_changes_pkt_data`
    /// in net/core/filter.c): the verifier invalidates every packet
    /// pointer after a call.
    pub changes_pkt_data: bool,
}

use crate::prog_type::ProgType;
use ArgType as A;

/// The helpers the engine models, with their kernel prototypes
/// (`bpf_map_lookup_elem_proto` etc. in kernel/bpf/helpers.c,
/// `bpf_skb_load_bytes_proto`, `bpf_xdp_adjust_head_proto`,
/// `bpf_xdp_adjust_tail_proto` in net/core/filter.c,
/// `bpf_probe_read_kernel_proto` in kernel/trace/bpf_trace.c and
/// `bpf_tail_call_proto` in kernel/bpf/core.c). The interpreter, the
/// verifier and the disassembler read this table.
pub static HELPER_PROTOS: &[HelperProto] = &[
    HelperProto {
        id: 1,
        name: "bpf_map_lookup_elem",
        args: &[A::ConstMapPtr, A::PtrToMapKey],
        ret: RetType::PtrToMapValueOrNull,
        allowed: Allowed::All,
        runs: true,
        changes_pkt_data: false,
    },
    HelperProto {
        id: 2,
        name: "bpf_map_update_elem",
        args: &[
            A::ConstMapPtr,
            A::PtrToMapKey,
            A::PtrToMapValue,
            A::Anything,
        ],
        ret: RetType::Integer,
        allowed: Allowed::All,
        runs: true,
        changes_pkt_data: false,
    },
    HelperProto {
        id: 3,
        name: "bpf_map_delete_elem",
        args: &[A::ConstMapPtr, A::PtrToMapKey],
        ret: RetType::Integer,
        allowed: Allowed::All,
        runs: true,
        changes_pkt_data: false,
    },
    HelperProto {
        id: 5,
        name: "bpf_ktime_get_ns",
        args: &[],
        ret: RetType::Integer,
        allowed: Allowed::All,
        runs: true,
        changes_pkt_data: false,
    },
    HelperProto {
        id: 7,
        name: "bpf_get_prandom_u32",
        args: &[],
        ret: RetType::Integer,
        allowed: Allowed::All,
        runs: true,
        changes_pkt_data: false,
    },
    HelperProto {
        id: 8,
        name: "bpf_get_smp_processor_id",
        args: &[],
        ret: RetType::Integer,
        allowed: Allowed::All,
        runs: true,
        changes_pkt_data: false,
    },
    HelperProto {
        id: 12,
        name: "bpf_tail_call",
        args: &[A::PtrToCtx, A::ConstMapPtr, A::Anything],
        ret: RetType::Void,
        allowed: Allowed::All,
        runs: true,
        changes_pkt_data: false,
    },
    HelperProto {
        id: 26,
        name: "bpf_skb_load_bytes",
        args: &[A::PtrToCtx, A::Anything, A::PtrToUninitMem, A::ConstSize],
        ret: RetType::Integer,
        allowed: Allowed::Skb,
        runs: true,
        changes_pkt_data: false,
    },
    HelperProto {
        id: 44,
        name: "bpf_xdp_adjust_head",
        args: &[A::PtrToCtx, A::Anything],
        ret: RetType::Integer,
        allowed: Allowed::Xdp,
        runs: true,
        changes_pkt_data: true,
    },
    HelperProto {
        id: 65,
        name: "bpf_xdp_adjust_tail",
        args: &[A::PtrToCtx, A::Anything],
        ret: RetType::Integer,
        allowed: Allowed::Xdp,
        runs: true,
        changes_pkt_data: true,
    },
    HelperProto {
        id: 113,
        name: "bpf_probe_read_kernel",
        args: &[A::PtrToUninitMem, A::ConstSizeOrZero, A::Anything],
        ret: RetType::Integer,
        allowed: Allowed::All,
        runs: true,
        changes_pkt_data: false,
    },
];

/// The prototype of helper `id`, when the engine models it.
pub fn helper_proto(id: i32) -> Option<&'static HelperProto> {
    HELPER_PROTOS.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_include_uapi_linux_bpf_h() {
        // include/uapi/linux/bpf.h, enum bpf_func_id.
        assert_eq!(helper_name(1), Some("bpf_map_lookup_elem"));
        assert_eq!(helper_name(5), Some("bpf_ktime_get_ns"));
        assert_eq!(helper_name(6), Some("bpf_trace_printk"));
        assert_eq!(helper_name(7), Some("bpf_get_prandom_u32"));
        assert_eq!(helper_name(12), Some("bpf_tail_call"));
        assert_eq!(helper_name(14), Some("bpf_get_current_pid_tgid"));
        assert_eq!(helper_name(131), Some("bpf_ringbuf_reserve"));
        assert_eq!(helper_name(211), Some("bpf_cgrp_storage_delete"));
        assert_eq!(helper_name(212), None);
        assert_eq!(helper_name(-1), None);
    }

    #[test]
    fn names_map_back_to_ids() {
        for (id, name) in HELPER_NAMES.iter().enumerate() {
            assert_eq!(helper_id(name), Some(id as i32), "{name}");
        }
        assert_eq!(helper_id("ktime_get_ns"), Some(5));
        assert_eq!(helper_id("bpf_no_such_helper"), None);
        assert_eq!(helper_id(""), None);
    }

    #[test]
    fn protos_agree_with_the_names_and_the_kernel() {
        for p in HELPER_PROTOS {
            assert_eq!(helper_name(p.id), Some(p.name), "{}", p.name);
            assert!(p.args.len() <= 5, "{}", p.name);
        }
        // kernel/bpf/helpers.c: bpf_map_lookup_elem_proto.
        let lookup = helper_proto(1).unwrap();
        assert_eq!(lookup.args, &[ArgType::ConstMapPtr, ArgType::PtrToMapKey]);
        assert_eq!(lookup.ret, RetType::PtrToMapValueOrNull);
        // bpf_map_update_elem_proto: map, key, value, flags.
        assert_eq!(helper_proto(2).unwrap().args.len(), 4);
        // net/core/filter.c: xdp_func_proto alone hands out xdp_adjust_head.
        let adjust = helper_proto(44).unwrap();
        assert!(adjust.allowed.admits(ProgType::Xdp));
        assert!(!adjust.allowed.admits(ProgType::SchedCls));
        assert!(helper_proto(6).is_none());
    }
}
