//! Program types: which context a program runs with, which memory it can
//! reach and how the kernel's `BPF_PROG_TEST_RUN` fills that memory
//! (docs/program-types.md).
//!
//! - [`ProgType::Input`]: the harness's own model (r1 = input memory,
//!   r2 = its length); the default everywhere.
//! - [`ProgType::SocketFilter`], [`ProgType::SchedCls`]: ctx is a
//!   `struct __sk_buff` ([`skb`]), the packet is reached with `LD_ABS`/
//!   `LD_IND` and, for tc, directly through `data`/`data_end`.
//! - [`ProgType::Xdp`]: ctx is a `struct xdp_md` ([`xdp`]).
//! - [`ProgType::Syscall`]: ctx is user memory of `ctx_size_in` bytes.
//!
//! [`ctx`] answers which ctx accesses the kernel's `*_is_valid_access`
//! allows and what a load yields; [`env`] builds the memory of one run.

pub mod ctx;
pub mod env;
pub mod skb;
pub mod symbols;
pub mod xdp;

use std::fmt;

/// A program type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProgType {
    /// The harness's model: r1 = input memory, r2 = its length.
    #[default]
    Input,
    /// `BPF_PROG_TYPE_SOCKET_FILTER` (libbpf section `socket`).
    SocketFilter,
    /// `BPF_PROG_TYPE_SCHED_CLS` (libbpf section `tc`).
    SchedCls,
    /// `BPF_PROG_TYPE_XDP` (libbpf section `xdp`).
    Xdp,
    /// `BPF_PROG_TYPE_SYSCALL` (libbpf section `syscall`).
    Syscall,
}

/// A name `--prog-type` does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown program type `{0}` (known: input, socket_filter/socket, sched_cls/tc, xdp, syscall)"
)]
pub struct UnknownProgType(pub String);

impl ProgType {
    /// Every type, `Input` first.
    pub const ALL: [ProgType; 5] = [
        ProgType::Input,
        ProgType::SocketFilter,
        ProgType::SchedCls,
        ProgType::Xdp,
        ProgType::Syscall,
    ];

    /// Parses a kernel name (`socket_filter`, `sched_cls`, `xdp`,
    /// `syscall`, with or without `BPF_PROG_TYPE_`, any case), a libbpf
    /// section name (`socket`, `tc`, `classifier`, `xdp`, `syscall`) or
    /// `input`.
    pub fn parse(name: &str) -> Result<ProgType, UnknownProgType> {
        let lower = name.trim().to_ascii_lowercase();
        let bare = lower.strip_prefix("bpf_prog_type_").unwrap_or(&lower);
        Ok(match bare {
            "input" => ProgType::Input,
            "socket_filter" | "socket" => ProgType::SocketFilter,
            "sched_cls" | "tc" | "classifier" => ProgType::SchedCls,
            "xdp" => ProgType::Xdp,
            "syscall" => ProgType::Syscall,
            _ => return Err(UnknownProgType(name.trim().to_string())),
        })
    }

    /// The kernel's name (`input` for the harness's model).
    pub fn name(self) -> &'static str {
        match self {
            ProgType::Input => "input",
            ProgType::SocketFilter => "socket_filter",
            ProgType::SchedCls => "sched_cls",
            ProgType::Xdp => "xdp",
            ProgType::Syscall => "syscall",
        }
    }

    /// `BPF_PROG_TYPE_*` (`None` for `Input`, which the kernel backend
    /// runs inside its wrapper).
    pub fn kernel_id(self) -> Option<u32> {
        match self {
            ProgType::Input => None,
            ProgType::SocketFilter => Some(1),
            ProgType::SchedCls => Some(3),
            ProgType::Xdp => Some(6),
            ProgType::Syscall => Some(31),
        }
    }

    /// The libbpf section name a selftest declares the type with
    /// (`SEC("xdp")`); the input model's is `socket`, the kernel
    /// selftests' default.
    pub fn section(self) -> &'static str {
        match self {
            ProgType::Input | ProgType::SocketFilter => "socket",
            ProgType::SchedCls => "tc",
            ProgType::Xdp => "xdp",
            ProgType::Syscall => "syscall",
        }
    }

    /// True for the types that run on a packet (`data_in`).
    pub fn has_packet(self) -> bool {
        matches!(
            self,
            ProgType::SocketFilter | ProgType::SchedCls | ProgType::Xdp
        )
    }

    /// True for the types that may use `LD_ABS`/`LD_IND`
    /// (`may_access_skb`).
    pub fn may_access_skb(self) -> bool {
        matches!(self, ProgType::SocketFilter | ProgType::SchedCls)
    }

    /// True for the types that may write packet data directly
    /// (`may_access_direct_pkt_data` with `BPF_WRITE`).
    pub fn may_write_packet(self) -> bool {
        matches!(self, ProgType::SchedCls | ProgType::Xdp)
    }
}

impl fmt::Display for ProgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ProgType {
    type Err = UnknownProgType;
    fn from_str(s: &str) -> Result<ProgType, UnknownProgType> {
        ProgType::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_and_libbpf_names_parse() {
        for (name, t) in [
            ("socket", ProgType::SocketFilter),
            ("socket_filter", ProgType::SocketFilter),
            ("BPF_PROG_TYPE_SOCKET_FILTER", ProgType::SocketFilter),
            ("tc", ProgType::SchedCls),
            ("sched_cls", ProgType::SchedCls),
            ("xdp", ProgType::Xdp),
            ("syscall", ProgType::Syscall),
            ("input", ProgType::Input),
        ] {
            assert_eq!(ProgType::parse(name), Ok(t), "{name}");
        }
        assert!(ProgType::parse("kprobe").is_err());
        for t in ProgType::ALL {
            assert_eq!(ProgType::parse(t.name()), Ok(t));
        }
    }
}
