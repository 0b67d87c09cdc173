//! Reconstructing full abstract states per instruction and path from a
//! level-2 log.
//!
//! The log prints a full state at a path's start (`from A to B: ...`, the
//! `caller:`/`callee:` blocks of a call, `to caller at N:` on return) and
//! afterwards only the registers and slots an instruction changed
//! (`5: (b7) r0 = 0 ; R0=0`, or `N: R6=1` on a line of its own when other
//! lines came in between). The parser carries the state forward: the state
//! recorded for an instruction is everything printed for its path before
//! the instruction's own line. A helper call clobbers r1–r5, which the log
//! cannot say (it omits uninitialised registers); the parser drops them.

use super::parse::{parse_reg, parse_slot, RegState, SlotState};
use crate::backend::slots::SlotLayout;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// One function frame's registers and stack as the kernel printed them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameState {
    /// r0..r10; `None` where the kernel printed nothing (not initialised,
    /// or not known from the log).
    pub regs: [Option<RegState>; 11],
    /// Stack slots by offset from the frame pointer (`fp-8` is -8).
    pub stack: BTreeMap<i64, SlotState>,
}

/// The state the kernel's verifier had before one instruction on one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsnState {
    /// The user's instruction index.
    pub pc: usize,
    /// The kernel's frame number (the user's program runs in frame 1: the
    /// harness wrapper is frame 0).
    pub frame: usize,
    /// The frame's registers and stack.
    pub state: FrameState,
    /// The log line (1-based) of the instruction.
    pub line: usize,
}

/// A parsed level-2 log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelLog {
    /// One entry per instruction line of the user's program, in log order.
    pub states: Vec<InsnState>,
    /// User instructions where the kernel pruned a path as safe.
    pub safe: BTreeSet<usize>,
    /// True when the log ends with the kernel's `processed N insns` summary
    /// and no refusal message.
    pub accepted: bool,
    /// The refusal message's lines, when the kernel refused the program.
    pub rejection: Vec<String>,
    /// `processed N insns`, when present.
    pub processed: Option<u64>,
}

/// A log line the parser does not understand.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("kernel log line {line}: {why}: `{text}`")]
pub struct KernelLogError {
    /// The line number (1-based).
    pub line: usize,
    /// The line.
    pub text: String,
    /// What is wrong.
    pub why: String,
}

/// Multi-line blocks whose next line is a full frame state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Nothing,
    /// `caller:` / `returning from callee:`: a full print to apply.
    Full,
    /// `callee:`: the new frame's full print; it becomes current.
    Callee,
    /// `to caller at N:`: the caller's full print; frames above it end.
    Caller,
}

struct Parser<'a> {
    layout: &'a SlotLayout,
    frames: Vec<FrameState>,
    cur: usize,
    out: KernelLog,
    expect: Expect,
    in_live_block: bool,
    /// Unrecognised lines not yet known to be the final refusal message.
    pending: Vec<(usize, String)>,
}

/// Splits a state print at top-level spaces (not inside parentheses).
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, None);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ' ' if depth == 0 => {
                if let Some(s) = start.take() {
                    out.push(&text[s..i]);
                }
                continue;
            }
            _ => {}
        }
        if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// `R3`, `R3_w` → 3.
fn reg_name(name: &str) -> Option<usize> {
    let n = name.strip_prefix('R')?;
    let n = n.split_once('_').map_or(n, |(n, live)| {
        if live.chars().all(|c| "rwD".contains(c)) {
            n
        } else {
            ""
        }
    });
    n.parse().ok().filter(|r| *r <= 10)
}

/// `fp-8`, `fp-8_w` → -8.
fn slot_name(name: &str) -> Option<i64> {
    let n = name.strip_prefix("fp")?;
    let n = n.split_once('_').map_or(n, |(n, _)| n);
    n.parse().ok()
}

/// A parsed state print: the frame it names (if any) and its entries.
struct Print {
    frame: Option<usize>,
    regs: Vec<(usize, RegState)>,
    slots: Vec<(i64, SlotState)>,
}

fn parse_print(text: &str) -> Result<Print, String> {
    let mut p = Print {
        frame: None,
        regs: Vec::new(),
        slots: Vec::new(),
    };
    for t in tokens(text) {
        if let Some(f) = t.strip_prefix("frame").and_then(|f| f.strip_suffix(':')) {
            p.frame = Some(f.parse().map_err(|_| format!("bad frame `{t}`"))?);
            continue;
        }
        if t == "cb" || t == "async_cb" || t.starts_with("refs=") {
            continue;
        }
        let (name, value) = t
            .split_once('=')
            .ok_or_else(|| format!("unknown state entry `{t}`"))?;
        if let Some(r) = reg_name(name) {
            p.regs.push((r, parse_reg(value)?));
        } else if let Some(off) = slot_name(name) {
            p.slots.push((off, parse_slot(value)?));
        } else {
            return Err(format!("unknown state entry `{t}`"));
        }
    }
    Ok(p)
}

/// `N:` at the start of `line`: the number and the rest after `:`.
fn numbered(line: &str) -> Option<(usize, &str)> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || line.as_bytes().get(digits) != Some(&b':') {
        return None;
    }
    Some((line[..digits].parse().ok()?, &line[digits + 1..]))
}

/// Lines that carry nothing about states (precision backtracking,
/// liveness and SCC bookkeeping, statistics).
fn is_noise(line: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "mark_precise:",
        "func#",
        "SCC ",
        "verification time",
        "stack depth",
        "max_states_per_insn",
        "frame ",
        "last_idx ",
        "regs=",
        "parent ",
        "propagating ",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
        || (line.starts_with('(') && (line.contains(" insn ") || line.contains("live stack")))
}

impl Parser<'_> {
    fn frame_mut(&mut self, k: usize) -> &mut FrameState {
        if self.frames.len() <= k {
            self.frames.resize_with(k + 1, FrameState::default);
        }
        &mut self.frames[k]
    }

    fn apply(&mut self, p: Print, full: bool) {
        let k = p.frame.unwrap_or(0);
        let f = self.frame_mut(k);
        if full {
            *f = FrameState::default();
        }
        for (r, v) in p.regs {
            f.regs[r] = Some(v);
        }
        for (o, s) in p.slots {
            f.stack.insert(o, s);
        }
    }

    fn flush_pending(&mut self) -> Result<(), KernelLogError> {
        match self.pending.first() {
            Some((line, text)) => Err(KernelLogError {
                line: *line,
                text: text.clone(),
                why: "unknown line in the middle of the log".into(),
            }),
            None => Ok(()),
        }
    }

    fn line(&mut self, n: usize, raw: &str) -> Result<(), String> {
        let line = raw.trim_end();
        if self.in_live_block {
            if line.starts_with(' ') && line.trim_start().starts_with(|c: char| c.is_ascii_digit())
            {
                return Ok(());
            }
            self.in_live_block = false;
        }
        if line.is_empty() || is_noise(line) {
            return Ok(());
        }
        let expect = std::mem::replace(&mut self.expect, Expect::Nothing);
        if expect != Expect::Nothing && line.starts_with(' ') {
            let p = parse_print(line)?;
            let k = p.frame.unwrap_or(0);
            match expect {
                Expect::Callee => self.cur = k,
                Expect::Caller => {
                    self.frames.truncate(k + 1);
                    self.cur = k;
                }
                _ => {}
            }
            self.apply(p, true);
            return Ok(());
        }
        match line {
            "Live regs before insn:" => {
                self.in_live_block = true;
                return Ok(());
            }
            "caller:" | "returning from callee:" => {
                self.expect = Expect::Full;
                return Ok(());
            }
            "callee:" => {
                self.expect = Expect::Callee;
                return Ok(());
            }
            _ => {}
        }
        if line.starts_with("to caller at ") && line.ends_with(':') {
            self.expect = Expect::Caller;
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix("processed ") {
            self.out.processed = rest.split(' ').next().and_then(|v| v.parse().ok());
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix("from ") {
            // `from A to B: state`, `from A to B (speculative execution): ...`
            let (head, state) = rest.split_once(':').ok_or("`from` line without `:`")?;
            let to = head
                .split(' ')
                .nth(2)
                .and_then(|b| b.parse::<usize>().ok())
                .ok_or("`from A to B` without B")?;
            let state = state.trim();
            if state == "safe" {
                if let Some(u) = self.layout.user_index(to) {
                    self.out.safe.insert(u);
                }
                return Ok(());
            }
            let p = parse_print(state)?;
            let k = p.frame.unwrap_or(0);
            // Only the current frame is printed; callers are unknown until
            // a `to caller at` print.
            self.frames = vec![FrameState::default(); k + 1];
            self.cur = k;
            self.apply(p, true);
            return Ok(());
        }
        let Some((insn, rest)) = numbered(line) else {
            return Err("unknown line".into());
        };
        let rest = rest.trim_start();
        if rest == "safe" {
            if let Some(u) = self.layout.user_index(insn) {
                self.out.safe.insert(u);
            }
            return Ok(());
        }
        if rest.starts_with('(') {
            // `N: (xx) disasm [; changed state]`
            if let Some(u) = self.layout.user_index(insn) {
                let state = self.frames.get(self.cur).cloned().unwrap_or_default();
                self.out.states.push(InsnState {
                    pc: u,
                    frame: self.cur,
                    state,
                    line: n,
                });
            }
            let (disasm, delta) = match rest.split_once(';') {
                Some((d, s)) => (d, Some(s)),
                None => (rest, None),
            };
            let op = disasm.split(')').nth(1).unwrap_or("").trim();
            if op.starts_with("call ") && !op.starts_with("call pc") {
                let cur = self.cur;
                let f = self.frame_mut(cur);
                for r in &mut f.regs[0..6] {
                    *r = None;
                }
            }
            if let Some(delta) = delta {
                let p = parse_print(delta)?;
                self.apply_delta(p);
            }
            return Ok(());
        }
        // `N: [frameK:] R1=...`: changed registers, or a path's first state.
        let p = parse_print(rest)?;
        self.apply_delta(p);
        Ok(())
    }

    fn apply_delta(&mut self, p: Print) {
        if let Some(k) = p.frame {
            self.cur = k;
        } else if self.frames.is_empty() {
            self.cur = 0;
        }
        let p = Print {
            frame: Some(p.frame.unwrap_or(self.cur)),
            ..p
        };
        self.apply(p, false);
    }
}

/// Parses a raw level-2 log of a wrapped program whose layout is `layout`
/// (instruction numbers are translated with it; harness instructions get
/// no state). Every line must be understood, except the refusal message
/// at the end of a refused program's log.
pub fn parse_log(log: &str, layout: &SlotLayout) -> Result<KernelLog, KernelLogError> {
    let mut p = Parser {
        layout,
        frames: Vec::new(),
        cur: 0,
        out: KernelLog::default(),
        expect: Expect::Nothing,
        in_live_block: false,
        pending: Vec::new(),
    };
    for (i, raw) in log.lines().enumerate() {
        let n = i + 1;
        match p.line(n, raw) {
            Ok(()) => {
                let line = raw.trim();
                if !line.is_empty() && !is_noise(line) && !line.starts_with("processed ") {
                    p.flush_pending()?;
                }
            }
            Err(why) if why == "unknown line" => p.pending.push((n, raw.trim_end().to_string())),
            Err(why) => {
                return Err(KernelLogError {
                    line: n,
                    text: raw.to_string(),
                    why,
                })
            }
        }
    }
    p.out.rejection = p.pending.iter().map(|(_, t)| t.clone()).collect();
    p.out.accepted = p.out.rejection.is_empty() && p.out.processed.is_some();
    Ok(p.out)
}
