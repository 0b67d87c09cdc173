//! `--prog-type`, `--packet HEX|--packet-file FILE` and `--ctx HEX`: the
//! program type and its packet/ctx (docs/program-types.md), shared by
//! `run`, `verify` and `diff`.

use super::mem::MemArgs;
use anyhow::anyhow;
use bpfdiff::hex::parse_hex_bytes;
use bpfdiff::input::ProgramInput;
use bpfdiff_engine::maps::{MapDef, MapSet};
use bpfdiff_engine::prog_type::env::{RunEnv, DEFAULT_PACKET_LEN};
use bpfdiff_engine::prog_type::ProgType;
use clap::Args;
use std::path::PathBuf;

/// The program-type options.
#[derive(Debug, Args)]
pub struct ProgTypeArgs {
    /// The program type: `input` (the harness's model, the default),
    /// a kernel name (`socket_filter`, `sched_cls`, `xdp`, `syscall`) or a
    /// libbpf section name (`socket`, `tc`, `xdp`, `syscall`). Replaces a
    /// `.data` file's `-- prog-type`.
    #[arg(long, value_name = "TYPE", value_parser = parse_prog_type)]
    pub prog_type: Option<ProgType>,
    /// The packet of a socket_filter, sched_cls or xdp program, as hex
    /// bytes (default: a `.data` file's `-- packet`, else 64 zero bytes).
    #[arg(long, value_name = "HEX", conflicts_with = "packet_file")]
    pub packet: Option<String>,
    /// Read the packet as hex text from a file.
    #[arg(long, value_name = "FILE")]
    pub packet_file: Option<PathBuf>,
    /// The ctx of a `syscall` program (`ctx_in`), as hex bytes (default:
    /// the input memory, `--mem` or `-- mem`).
    #[arg(long, value_name = "HEX")]
    pub ctx: Option<String>,
    /// The program's maps, as JSON (docs/program-types.md, "Maps");
    /// replaces a `.data` file's `-- maps`. `ld_imm64 src=1 imm=i` is map i.
    #[arg(long, value_name = "FILE")]
    pub maps: Option<PathBuf>,
}

fn parse_prog_type(s: &str) -> Result<ProgType, String> {
    ProgType::parse(s).map_err(|e| e.to_string())
}

/// The type and the memory of one run.
pub struct Resolved {
    /// The program type.
    pub prog_type: ProgType,
    /// The run's memory (for `Input`: `mem` is the input memory), with
    /// the maps at their initial contents.
    pub env: RunEnv,
    /// The map definitions (`--maps`, else the file's `-- maps`).
    pub maps: Vec<MapDef>,
}

impl ProgTypeArgs {
    /// The type (option, else the file's, else `Input`) and its memory.
    pub fn resolve(&self, input: &ProgramInput, memory: &MemArgs) -> anyhow::Result<Resolved> {
        let prog_type = self
            .prog_type
            .or(input.prog_type)
            .unwrap_or(ProgType::Input);
        let packet_given = self.packet.is_some() || self.packet_file.is_some();
        let mem_given = memory.mem.is_some() || memory.mem_file.is_some();
        if !prog_type.has_packet() && packet_given {
            return Err(anyhow!(
                "--packet: a {prog_type} program takes no packet (see --prog-type)"
            ));
        }
        if prog_type != ProgType::Syscall && self.ctx.is_some() {
            return Err(anyhow!(
                "--ctx: only a syscall program takes a ctx from the command line (docs/program-types.md)"
            ));
        }
        let file_mem = input.mem.as_ref().is_some_and(|m| !m.is_empty());
        if prog_type.has_packet() && (mem_given || file_mem) {
            return Err(anyhow!(
                "--mem: a {prog_type} program has no input memory; give its packet with --packet"
            ));
        }
        let maps = match &self.maps {
            Some(file) => super::maps_arg::read_maps_file(file)?,
            None => input.maps.clone(),
        };
        let mut env = match prog_type {
            ProgType::Input => {
                RunEnv::new(prog_type, &[], Some(&memory.resolve(input.mem.clone())?))?
            }
            ProgType::Syscall => {
                let ctx = match &self.ctx {
                    Some(hex) => parse_hex_bytes(hex)
                        .map_err(|e| anyhow!("--ctx: column {}: {}", e.column, e.kind))?,
                    None => memory.resolve(input.mem.clone())?,
                };
                RunEnv::new(prog_type, &[], Some(&ctx))?
            }
            _ => {
                let packet = match (&self.packet, &self.packet_file) {
                    (Some(hex), _) => parse_hex_bytes(hex)
                        .map_err(|e| anyhow!("--packet: column {}: {}", e.column, e.kind))?,
                    (None, Some(file)) => {
                        let text = std::fs::read_to_string(file)
                            .map_err(|e| anyhow!("{}: cannot read: {e}", file.display()))?;
                        parse_hex_bytes(&text).map_err(|e| {
                            anyhow!("{}:{}:{}: {}", file.display(), e.line, e.column, e.kind)
                        })?
                    }
                    (None, None) => input
                        .packet
                        .clone()
                        .unwrap_or_else(|| vec![0; DEFAULT_PACKET_LEN]),
                };
                RunEnv::new(prog_type, &packet, None)?
            }
        };
        env.maps = MapSet::new(&maps);
        Ok(Resolved {
            prog_type,
            env,
            maps,
        })
    }
}
