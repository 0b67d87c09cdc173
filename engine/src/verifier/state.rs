//! The abstract state of a path: per frame, each register's kind and the
//! frame's stack. Models `struct bpf_reg_state`, `struct bpf_func_state`
//! and `struct bpf_verifier_state` of Linux 6.18 (`include/linux/bpf_verifier.h`)
//! as far as the engine's programs need them.
//!
//! The program runs as the kernel backend runs it (docs/oracles.md): a
//! static subprogram called from a `BPF_PROG_TYPE_SYSCALL` wrapper, with
//! r1 = a pointer to the input memory (a map value of `value_size = len`;
//! the scalar 0 when `len` is 0) and r2 = `len`; r3–r5 and r6–r9 are not
//! initialised.

use super::scalar::ScalarBounds;
use super::stack::Stack;
use crate::prog_type::ProgType;

/// What a pointer points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PtrKind {
    /// `PTR_TO_STACK` of frame `frame` (0 = the program's entry frame).
    Stack {
        /// The frame whose stack it points into.
        frame: u8,
    },
    /// `PTR_TO_MAP_VALUE`: the input memory, `size` bytes.
    Mem {
        /// The map's `value_size` (the input length).
        size: u32,
    },
    /// `PTR_TO_CTX` of a program of this type (docs/program-types.md).
    Ctx(ProgType),
    /// `PTR_TO_PACKET` (`meta`: `PTR_TO_PACKET_META`): packet data with
    /// the kernel's `id` and checked `range` (negative: `AT_PKT_END` -1,
    /// `BEYOND_PKT_END` -2). `writable`: the type may write packet data.
    Packet {
        /// Pointers with equal ids learn ranges together.
        id: u32,
        /// Bytes from the packet start known to be readable.
        range: i32,
        /// `PTR_TO_PACKET_META` rather than `PTR_TO_PACKET`.
        meta: bool,
        /// The program type may write packet data.
        writable: bool,
    },
    /// `PTR_TO_PACKET_END`.
    PacketEnd,
    /// `CONST_PTR_TO_MAP`: map `map` (`ld_imm64` src 1).
    MapPtr {
        /// The map's index in the program's maps.
        map: u8,
    },
    /// `PTR_TO_MAP_VALUE | PTR_MAYBE_NULL`: a lookup's result before its
    /// null check; a check resolves every copy with the same `id`.
    MapValueOrNull {
        /// The map's `value_size`.
        size: u32,
        /// The id shared by its copies.
        id: u32,
    },
}

/// A pointer: a region plus a fixed offset (`reg->off`) and a variable
/// offset (`reg->var_off` and the 64-bit bounds; pointers carry no 32-bit
/// bounds in the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pointer {
    /// The region.
    pub kind: PtrKind,
    /// The fixed offset.
    pub off: i32,
    /// The variable offset (the constant 0 when there is none).
    pub var: ScalarBounds,
}

impl Pointer {
    /// A pointer with a fixed offset only.
    pub fn fixed(kind: PtrKind, off: i32) -> Pointer {
        let mut var = ScalarBounds::constant(0);
        var.mark32_unbounded();
        Pointer { kind, off, var }
    }

    /// The kernel's name of the pointer type (`reg_type_str`).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            PtrKind::Stack { .. } => "fp",
            PtrKind::Mem { .. } => "map_value",
            PtrKind::Ctx(_) => "ctx",
            PtrKind::Packet { meta: false, .. } => "pkt",
            PtrKind::Packet { meta: true, .. } => "pkt_meta",
            PtrKind::PacketEnd => "pkt_end",
            PtrKind::MapPtr { .. } => "map_ptr",
            PtrKind::MapValueOrNull { .. } => "map_value_or_null",
        }
    }
}

/// One register's abstract value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reg {
    /// `NOT_INIT`: never written (or clobbered by a call).
    NotInit,
    /// `SCALAR_VALUE`.
    Scalar(ScalarBounds),
    /// A pointer.
    Ptr(Pointer),
}

impl Reg {
    /// An unknown scalar (`mark_reg_unknown`).
    pub fn unknown() -> Reg {
        Reg::Scalar(ScalarBounds::unknown())
    }

    /// The scalar constant `v` (`__mark_reg_known`).
    pub fn constant(v: u64) -> Reg {
        Reg::Scalar(ScalarBounds::constant(v))
    }

    /// True for a pointer.
    pub fn is_pointer(&self) -> bool {
        matches!(self, Reg::Ptr(_))
    }

    /// The scalar state, when a scalar.
    pub fn scalar(&self) -> Option<&ScalarBounds> {
        match self {
            Reg::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The kernel's name of the register's type (`reg_type_str`), as in
    /// `R1 invalid mem access 'scalar'`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Reg::NotInit => "?",
            Reg::Scalar(_) => "scalar",
            Reg::Ptr(p) => p.type_name(),
        }
    }
}

/// One frame: registers, stack, and where it was called from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// r0–r10.
    pub regs: [Reg; 11],
    /// The frame's stack.
    pub stack: Stack,
    /// The call instruction that created the frame (`None` for the entry).
    pub callsite: Option<usize>,
    /// The subprogram the frame runs.
    pub subprog: usize,
}

impl Frame {
    /// A fresh frame: all registers `NOT_INIT` except r10 (`init_func_state`).
    pub fn new(frameno: u8, callsite: Option<usize>, subprog: usize) -> Frame {
        let mut regs = [Reg::NotInit; 11];
        regs[10] = Reg::Ptr(Pointer::fixed(PtrKind::Stack { frame: frameno }, 0));
        Frame {
            regs,
            stack: Stack::default(),
            callsite,
            subprog,
        }
    }
}

/// The state of one path: its frames (the last is the current one).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// The frames, outermost first.
    pub frames: Vec<Frame>,
}

impl State {
    /// The state at the program's first instruction for an input of `len`
    /// bytes: r1 = map value of `len` bytes (scalar 0 when `len` is 0),
    /// r2 = `len`.
    pub fn entry(len: usize) -> State {
        let mut f = Frame::new(0, None, 0);
        f.regs[1] = if len == 0 {
            Reg::constant(0)
        } else {
            Reg::Ptr(Pointer::fixed(PtrKind::Mem { size: len as u32 }, 0))
        };
        // The wrapper's `r2 = len` is a 64-bit mov of a 32-bit imm.
        f.regs[2] = Reg::constant(len as i32 as i64 as u64);
        State { frames: vec![f] }
    }

    /// The state at the first instruction of a program of `prog_type`
    /// loaded as itself: r1 = ctx, r2–r9 not initialised. `Input` is
    /// [`State::entry`] with `len`.
    pub fn entry_for(prog_type: ProgType, len: usize) -> State {
        if prog_type == ProgType::Input {
            return State::entry(len);
        }
        let mut f = Frame::new(0, None, 0);
        f.regs[1] = Reg::Ptr(Pointer::fixed(PtrKind::Ctx(prog_type), 0));
        State { frames: vec![f] }
    }

    /// The current frame.
    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a state has a frame")
    }

    /// The current frame, mutably.
    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a state has a frame")
    }

    /// The current frame's number.
    pub fn curframe(&self) -> usize {
        self.frames.len() - 1
    }
}
