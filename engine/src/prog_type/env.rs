//! The memory of one run of a program of a given type, as
//! `BPF_PROG_TEST_RUN` builds it: the packet (`data_in`), the ctx
//! (`ctx_in`, or the kernel's own for a packet) and what r1 points to.

use super::{ctx::Loaded, skb, xdp, ProgType};
use crate::maps::MapSet;

/// The default packet of `run --prog-type` for packet types: 64 zero bytes.
pub const DEFAULT_PACKET_LEN: usize = 64;

/// Bad packet or ctx for a type (the kernel would refuse the test run).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// The packet is shorter than the type needs.
    #[error(
        "{prog_type}: the packet must have at least {min} bytes (BPF_PROG_TEST_RUN refuses {len})"
    )]
    PacketTooShort {
        /// The type.
        prog_type: ProgType,
        /// The minimum.
        min: usize,
        /// The given length.
        len: usize,
    },
    /// An skb's IPv4 or IPv6 packet without its whole IP header.
    #[error(
        "{prog_type}: an EtherType {ethertype:#06x} packet must have at least {min} bytes (BPF_PROG_TEST_RUN refuses {len} with EINVAL)"
    )]
    IpHeaderTooShort {
        /// The type.
        prog_type: ProgType,
        /// The packet's EtherType.
        ethertype: u16,
        /// The minimum.
        min: usize,
        /// The given length.
        len: usize,
    },
    /// A type without a packet was given one.
    #[error("{0}: this program type takes no packet (use --ctx or --mem)")]
    NoPacket(ProgType),
    /// `--ctx` where the harness does not model it.
    #[error("{0}: --ctx is not modeled for this program type (docs/program-types.md)")]
    CtxUnsupported(ProgType),
}

/// Where a ctx pointer field points in the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketPlace {
    /// `data`: the first visible packet byte.
    Start,
    /// `data_end`: one past the last.
    End,
}

/// The ctx of a packet type: its bytes, and the fields that load as
/// packet pointers or as opaque values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtxModel {
    /// The ctx bytes (scalar fields as the test run sets them).
    pub bytes: Vec<u8>,
    /// 4-byte fields that load as a pointer into the packet.
    pub pointers: Vec<(usize, PacketPlace)>,
    /// `(offset, len)`: fields whose value the harness cannot know; loads
    /// from them are marked and never compared.
    pub opaque: Vec<(usize, usize)>,
    /// The type (for the width of stored fields).
    pub prog_type: ProgType,
}

impl CtxModel {
    /// The value a field keeps after a store of `value` at `off`
    /// (`None`: the store changes nothing).
    pub fn stored_value(&self, off: usize, value: u64) -> Option<u64> {
        match self.prog_type {
            ProgType::SocketFilter | ProgType::SchedCls => skb::stored_value(off, value),
            _ => Some(value),
        }
    }

    /// A narrow ctx load as the kernel rewrites it (`None`: the bytes
    /// as stored); see [`skb::narrow_load`].
    pub fn narrow_load(&self, off: usize, size: usize) -> Option<u64> {
        match self.prog_type {
            ProgType::SocketFilter | ProgType::SchedCls => skb::narrow_load(&self.bytes, off, size),
            _ => None,
        }
    }

    /// True when `off..off + size` overlaps an opaque field.
    pub fn is_opaque(&self, off: usize, size: usize) -> bool {
        self.opaque
            .iter()
            .any(|&(o, n)| off < o + n && o < off + size)
    }
}

/// Everything one run needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEnv {
    /// The type.
    pub prog_type: ProgType,
    /// The region at the engine's `MEM_BASE`: the input (`Input`), the ctx
    /// memory (`Syscall`) or the packet from `data` on (packet types).
    pub mem: Vec<u8>,
    /// The packet bytes before `data` that the program cannot see (the
    /// Ethernet header a socket filter's skb was pulled past).
    pub hidden_head: Vec<u8>,
    /// The ctx of a packet type.
    pub ctx: Option<CtxModel>,
    /// The maps the program reaches by index (`ld_imm64` src 1 and 2);
    /// changed in place by the run.
    pub maps: MapSet,
}

impl RunEnv {
    /// The run of a `prog_type` program on `packet` (packet types) and
    /// `ctx` (`syscall`: the ctx memory; `input`: the input memory).
    pub fn new(prog_type: ProgType, packet: &[u8], ctx: Option<&[u8]>) -> Result<RunEnv, EnvError> {
        let mut env = RunEnv {
            prog_type,
            mem: Vec::new(),
            hidden_head: Vec::new(),
            ctx: None,
            maps: MapSet::default(),
        };
        match prog_type {
            ProgType::Input | ProgType::Syscall => {
                if !packet.is_empty() {
                    return Err(EnvError::NoPacket(prog_type));
                }
                env.mem = ctx.unwrap_or_default().to_vec();
            }
            ProgType::SocketFilter | ProgType::SchedCls | ProgType::Xdp => {
                if ctx.is_some() {
                    return Err(EnvError::CtxUnsupported(prog_type));
                }
                // bpf_test_init: at least ETH_HLEN bytes for every packet type.
                if packet.len() < skb::ETH_HLEN {
                    return Err(EnvError::PacketTooShort {
                        prog_type,
                        min: skb::ETH_HLEN,
                        len: packet.len(),
                    });
                }
                let min = min_packet_len(prog_type, packet);
                if packet.len() < min {
                    return Err(EnvError::IpHeaderTooShort {
                        prog_type,
                        ethertype: u16::from_be_bytes([packet[12], packet[13]]),
                        min,
                        len: packet.len(),
                    });
                }
                let (bytes, pointers, opaque) = match prog_type {
                    ProgType::Xdp => (
                        xdp::test_run_ctx(),
                        vec![
                            (xdp::DATA, PacketPlace::Start),
                            (xdp::DATA_END, PacketPlace::End),
                            (xdp::DATA_META, PacketPlace::Start),
                        ],
                        Vec::new(),
                    ),
                    _ => {
                        let tc = prog_type == ProgType::SchedCls;
                        let pointers = if tc {
                            vec![
                                (skb::DATA, PacketPlace::Start),
                                (skb::DATA_END, PacketPlace::End),
                                (skb::DATA_META, PacketPlace::Start),
                            ]
                        } else {
                            Vec::new()
                        };
                        (
                            skb::test_run_ctx(packet, tc),
                            pointers,
                            skb::OPAQUE.to_vec(),
                        )
                    }
                };
                let skip = if prog_type == ProgType::SocketFilter {
                    skb::ETH_HLEN
                } else {
                    0
                };
                env.hidden_head = packet[..skip].to_vec();
                env.mem = packet[skip..].to_vec();
                env.ctx = Some(CtxModel {
                    bytes,
                    pointers,
                    opaque,
                    prog_type,
                });
            }
        }
        Ok(env)
    }

    /// The packet as `data_out` returns it after the run (`None` for types
    /// without a packet). A socket filter's Ethernet header comes back
    /// zeroed (`bpf_prog_test_run_skb` clears what it pushes back).
    pub fn packet_after(&self) -> Option<Vec<u8>> {
        self.prog_type.has_packet().then(|| {
            let mut out = vec![0u8; self.hidden_head.len()];
            out.extend_from_slice(&self.mem);
            out
        })
    }
}

/// The shortest packet `BPF_PROG_TEST_RUN` runs a program of
/// `prog_type` on: the Ethernet header, and for the skb types (socket
/// filter, tc) with an IPv4 or IPv6 EtherType the whole fixed IP header
/// as well (20 or 40 bytes). Measured on Linux 6.18: a tc or socket
/// filter run of a 33-byte IPv4 or a 53-byte IPv6 packet fails with
/// EINVAL, 34 and 54 bytes run; other EtherTypes run from 14 bytes, and
/// xdp runs every packet from 14 bytes.
pub fn min_packet_len(prog_type: ProgType, packet: &[u8]) -> usize {
    if !matches!(prog_type, ProgType::SocketFilter | ProgType::SchedCls) {
        return skb::ETH_HLEN;
    }
    match packet.get(12..14) {
        Some([0x08, 0x00]) => skb::ETH_HLEN + 20,
        Some([0x86, 0xdd]) => skb::ETH_HLEN + 40,
        _ => skb::ETH_HLEN,
    }
}

/// What loading `loaded` gives, as a packet place (for the interpreter).
pub fn place_of(loaded: Loaded) -> Option<PacketPlace> {
    match loaded {
        Loaded::PacketStart | Loaded::PacketMeta => Some(PacketPlace::Start),
        Loaded::PacketEnd => Some(PacketPlace::End),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: [u8; 2], len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[12..14].copy_from_slice(&ethertype);
        p
    }

    // Measured on Linux 6.18 (docs/program-types.md): BPF_PROG_TEST_RUN
    // of a tc or socket filter program fails with EINVAL on an IPv4
    // packet shorter than 14 + 20 bytes and an IPv6 one shorter than
    // 14 + 40; xdp and other EtherTypes run from 14 bytes.
    #[test]
    fn skb_runs_need_the_whole_ip_header() {
        for t in [ProgType::SchedCls, ProgType::SocketFilter] {
            for (et, min) in [([0x08, 0x00], 34), ([0x86, 0xdd], 54)] {
                assert!(matches!(
                    RunEnv::new(t, &eth(et, min - 1), None),
                    Err(EnvError::IpHeaderTooShort { .. })
                ));
                assert!(RunEnv::new(t, &eth(et, min), None).is_ok());
            }
            assert!(RunEnv::new(t, &eth([0x12, 0x34], 14), None).is_ok());
        }
        assert!(RunEnv::new(ProgType::Xdp, &eth([0x08, 0x00], 14), None).is_ok());
    }
}
