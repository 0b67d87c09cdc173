//! The wire protocol between the host and the agent in a guest, over a
//! serial line (docs/kernel-matrix.md, "Transport").
//!
//! Every frame is a 4-byte magic, a little-endian `u32` length and that many
//! bytes. The magic lets a reader skip anything else that reaches the line
//! (a stray byte at boot) and find the next frame.
//!
//! - host → guest ([`REQUEST_MAGIC`]): `op: u8`, `level: u8`, the program's
//!   bytecode (`u32` length + bytes), the input memory (`u32` length + bytes).
//! - guest → host ([`REPLY_MAGIC`]): JSON. The first frame after boot is a
//!   [`Hello`]; then one reply per request: an [`Outcome`](crate::outcome::Outcome)
//!   for [`Op::Run`], a [`LogReply`] for [`Op::VerifierLog`]. While a
//!   request is being served the agent also sends an empty frame, a
//!   heartbeat, every [`HEARTBEAT_EVERY`].

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// Starts a request frame.
pub const REQUEST_MAGIC: &[u8; 4] = b"BPFQ";
/// Starts a reply frame.
pub const REPLY_MAGIC: &[u8; 4] = b"BPFA";
/// How often the agent says it is still at work on a request.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The largest frame either side accepts (a 1M-insn program is 8 MiB; a
/// level-2 verifier log is up to 16 MiB).
pub const MAX_FRAME: usize = 32 << 20;

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Load and run the program: the reply is an `Outcome`.
    Run,
    /// Load the program with a verifier log of `level`: the reply is a [`LogReply`].
    VerifierLog,
    /// Load the program without capabilities as a socket filter and run
    /// it on the input as its packet: the reply is an `Outcome`.
    RunUnprivSocket,
}

impl Op {
    fn code(self) -> u8 {
        match self {
            Op::Run => 1,
            Op::VerifierLog => 2,
            Op::RunUnprivSocket => 3,
        }
    }

    fn from_code(code: u8) -> Option<Op> {
        match code {
            1 => Some(Op::Run),
            2 => Some(Op::VerifierLog),
            3 => Some(Op::RunUnprivSocket),
            _ => None,
        }
    }
}

/// One request, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// What to do.
    pub op: Op,
    /// The verifier log level for [`Op::VerifierLog`].
    pub level: u8,
    /// The program's bytecode.
    pub program: Vec<u8>,
    /// The input memory.
    pub input: Vec<u8>,
}

impl Request {
    /// The payload of the request's frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.program.len() + self.input.len());
        out.push(self.op.code());
        out.push(self.level);
        for part in [&self.program, &self.input] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    /// Decodes a frame's payload; `None` when it is malformed.
    pub fn decode(payload: &[u8]) -> Option<Request> {
        let op = Op::from_code(*payload.first()?)?;
        let level = *payload.get(1)?;
        let mut rest = payload.get(2..)?;
        let mut part = || -> Option<Vec<u8>> {
            let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let bytes = rest.get(4..4 + len)?.to_vec();
            rest = &rest[4 + len..];
            Some(bytes)
        };
        let program = part()?;
        let input = part()?;
        Some(Request {
            op,
            level,
            program,
            input,
        })
    }
}

/// The agent's first frame: what it runs on and how the kernel is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// `uname -r`.
    pub release: String,
    /// `/proc/version`, the full banner (it names the patch level).
    pub version: String,
    /// `net.core.bpf_jit_enable` as read back after setting it.
    pub jit_enable: String,
    /// `net.core.bpf_jit_harden` as read back after setting it.
    pub jit_harden: String,
    /// Why the agent cannot serve, if it cannot (bpf() denied, a sysctl
    /// that would not take).
    pub error: Option<String>,
}

/// The reply to [`Op::VerifierLog`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogReply {
    /// The load ran: whether the kernel accepted it, and its log.
    Log {
        /// True when the program was accepted.
        accepted: bool,
        /// The log as the kernel wrote it.
        log: String,
    },
    /// The log could not be had.
    Error(String),
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, magic: &[u8; 4], payload: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(magic);
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame)?;
    w.flush()
}

/// Reads the next frame that starts with `magic`, skipping any bytes before
/// it. Fails at end of input or on a frame over [`MAX_FRAME`].
pub fn read_frame(r: &mut impl Read, magic: &[u8; 4]) -> io::Result<Vec<u8>> {
    let mut window = [0u8; 4];
    let mut byte = [0u8; 1];
    loop {
        r.read_exact(&mut byte)?;
        window.rotate_left(1);
        window[3] = byte[0];
        if &window == magic {
            break;
        }
    }
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit"),
        ));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let req = Request {
            op: Op::VerifierLog,
            level: 2,
            program: vec![0xb7, 0, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
            input: vec![1, 2, 3],
        };
        assert_eq!(Request::decode(&req.encode()), Some(req));
        assert_eq!(Request::decode(&[1, 0, 9, 0, 0, 0]), None);
        assert_eq!(Request::decode(&[7, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn frames_are_found_after_noise() {
        let mut line = b"\r\nboot noise BP".to_vec();
        write_frame(&mut line, REPLY_MAGIC, b"{}").unwrap();
        write_frame(&mut line, REPLY_MAGIC, b"[1]").unwrap();
        let mut r = &line[..];
        assert_eq!(read_frame(&mut r, REPLY_MAGIC).unwrap(), b"{}");
        assert_eq!(read_frame(&mut r, REPLY_MAGIC).unwrap(), b"[1]");
        assert!(read_frame(&mut r, REPLY_MAGIC).is_err());
    }
}
