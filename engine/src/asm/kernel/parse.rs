//! Parsing the kernel's syntax (see the module documentation of
//! [`crate::asm::kernel`]) into instructions.
//!
//! One line holds one instruction. A line is read by a small cursor over its
//! text; the first word (or `*` for a store) picks the statement shape. Every
//! instruction is checked against the opcode table through the decoder, so a
//! line that parses but breaks a table rule is reported as
//! [`AsmErrorKind::Invalid`].

use super::labels::{Labels, Place, Target};
use super::print::{alu_operator, atomic_function, atomic_operator, jump_operator};
use super::source::{label_len, starts_like_instruction, take_labels, Reader};
use crate::asm::{AsmError, AsmErrorKind};
use crate::decode::{decode_at, Instruction, MAX_REG};
use crate::helpers;
use crate::insn::Insn;
use crate::opcode::{Class, OpcodeRow, Operation, Size, Source, OPCODES};

type Parsed<T> = Result<T, AsmErrorKind>;

/// A parsed statement whose jump or call target is a label, to be
/// resolved once every label is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fixup {
    /// The label.
    target: Target,
    /// The field that takes the offset.
    field: FixField,
}

/// Which field a label's offset goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FixField {
    /// The 16-bit `off` of `goto` and conditional jumps.
    Off16,
    /// The 32-bit `imm` of `gotol`.
    Imm32,
    /// `call NAME`: a call to the label NAME if one is defined, else the
    /// helper NAME (`helper`); `symbol` when it was written `%[NAME]`.
    Call { helper: Option<i32>, symbol: bool },
}

/// One instruction waiting for its labels.
struct Pending {
    line: usize,
    ins: Instruction,
    fixup: Option<Fixup>,
    slot: usize,
    place: Place,
}

/// Parses a whole text; blank and comment-only lines are skipped (see
/// [`super::source`] for the text around instructions, and
/// [`super::labels`] for labels).
///
/// A line of bytes only (`bpftool prog dump xlated ... opcodes` prints one
/// after each instruction) is checked against the instruction before it.
pub(super) fn program(text: &str) -> Result<Vec<Instruction>, AsmError> {
    let mut reader = Reader::default();
    let mut labels = Labels::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut slot = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let at = |kind| AsmError { line, kind };
        if let Some(listed) = listed_bytes(raw) {
            check_listed_bytes(&listed, pending.last().map(|p| &p.ins), raw).map_err(at)?;
            continue;
        }
        let segments = reader.segments(raw).map_err(at)?;
        let count = segments.len();
        for segment in segments {
            let (defined, rest) = take_labels(&segment.text);
            if segment.trailing && !(rest.is_empty() || starts_like_instruction(rest)) {
                // A comment after `;` (the verifier log's register state).
                break;
            }
            for (text, name) in &defined {
                let alone = count == 1 && rest.is_empty();
                labels.define(text, name, slot, line, alone).map_err(at)?;
            }
            if rest.is_empty() {
                continue;
            }
            if let Some((ins, fixup)) = statement(rest).map_err(at)? {
                let place = labels.place();
                pending.push(Pending {
                    line,
                    ins,
                    fixup,
                    slot,
                    place,
                });
                slot += ins.slots();
            }
        }
    }
    let mut out = Vec::with_capacity(pending.len());
    for p in &pending {
        let ins = match &p.fixup {
            None => p.ins,
            Some(fixup) => {
                resolve(p, fixup, &mut labels).map_err(|kind| AsmError { line: p.line, kind })?
            }
        };
        out.push(ins);
    }
    if let Some(line) = labels.unused_lone_number() {
        let text = text.lines().nth(line - 1).unwrap_or_default().trim();
        return Err(AsmError {
            line,
            kind: AsmErrorKind::Syntax {
                text: text.to_string(),
            },
        });
    }
    Ok(out)
}

/// Puts the offset to a label into the instruction's field.
fn resolve(p: &Pending, fixup: &Fixup, labels: &mut Labels) -> Parsed<Instruction> {
    let ins = p.ins;
    let target = labels.slot(&fixup.target, p.place);
    let relative = |target: usize| target as i128 - p.slot as i128 - 1;
    let out_of_range = || AsmErrorKind::JumpOutOfRange {
        target: fixup.target.text(),
    };
    match &fixup.field {
        FixField::Call { helper, symbol } => match (target, helper) {
            (Some(target), _) => {
                let row =
                    find_row(Class::Jmp, Operation::CallLocal, None, None).ok_or_else(|| {
                        AsmErrorKind::UnknownMnemonic {
                            mnemonic: "call".into(),
                        }
                    })?;
                let imm = i32::try_from(relative(target)).map_err(|_| out_of_range())?;
                build(row, 0, 0, 0, imm, 0)
            }
            (None, Some(_)) => Ok(ins),
            (None, None) if *symbol => Err(AsmErrorKind::UnresolvedSymbol {
                symbol: fixup.target.text(),
            }),
            (None, None) => Err(bad_operand(
                fixup.target.text(),
                "a known helper name, NAME#ID, a helper id, pc+N, kernel-function#ID or a label",
            )),
        },
        FixField::Off16 | FixField::Imm32 => {
            let target = target.ok_or_else(|| AsmErrorKind::UnknownLabel {
                label: fixup.target.text(),
            })?;
            let rel = relative(target);
            if fixup.field == FixField::Off16 {
                let off = i16::try_from(rel).map_err(|_| out_of_range())?;
                build(ins.row, ins.dst, ins.src, off, ins.imm, ins.next_imm)
            } else {
                let imm = i32::try_from(rel).map_err(|_| out_of_range())?;
                build(ins.row, ins.dst, ins.src, ins.off, imm, ins.next_imm)
            }
        }
    }
}

/// The bytes of a line that holds only 8 or 16 two-digit hex bytes.
fn listed_bytes(raw: &str) -> Option<Vec<u8>> {
    let tokens: Vec<&str> = strip_comment(raw).split_whitespace().collect();
    if tokens.len() != 8 && tokens.len() != 16 {
        return None;
    }
    tokens
        .iter()
        .map(|t| {
            if t.len() == 2 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                u8::from_str_radix(t, 16).ok()
            } else {
                None
            }
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Listed bytes must be exactly those of the instruction before them.
fn check_listed_bytes(listed: &[u8], previous: Option<&Instruction>, raw: &str) -> Parsed<()> {
    let Some(previous) = previous else {
        return Err(AsmErrorKind::Syntax {
            text: raw.trim().to_string(),
        });
    };
    let assembled: Vec<u8> = previous
        .encode()
        .into_iter()
        .flat_map(|slot| slot.to_bytes())
        .collect();
    if listed == assembled.as_slice() {
        Ok(())
    } else {
        Err(AsmErrorKind::ListedBytes {
            listed: hex(listed),
            assembled: hex(&assembled),
        })
    }
}

/// Parses one statement (comments and labels already removed): `None`
/// when it holds no instruction.
fn statement(text: &str) -> Parsed<Option<(Instruction, Option<Fixup>)>> {
    if text.is_empty() || is_prototype(text) {
        return Ok(None);
    }
    let (prefix, statement) = strip_prefix(text);
    if statement.is_empty() {
        return Err(AsmErrorKind::Syntax {
            text: text.to_string(),
        });
    }
    let mut parser = Parser {
        cur: Cursor {
            text: statement,
            pos: 0,
        },
        statement,
        prefix,
        fixup: None,
    };
    let ins = parser.statement()?;
    if !parser.cur.at_end() {
        return Err(parser.syntax());
    }
    match prefix {
        Some(prefix) if prefix != ins.row.opcode => Err(AsmErrorKind::OpcodePrefix {
            prefix,
            opcode: ins.row.opcode,
        }),
        _ => Ok(Some((ins, parser.fixup))),
    }
}

/// bpftool's line for a function's BTF prototype, printed before its first
/// instruction (`int xdp_prog(struct xdp_md * ctx):`): it holds no
/// instruction.
fn is_prototype(text: &str) -> bool {
    text.ends_with("):")
        && text.contains('(')
        && !text.starts_with(|c: char| c.is_ascii_digit() || c == '(')
}

/// Cuts a `;` or `//` comment.
fn strip_comment(raw: &str) -> &str {
    let cut = [raw.find(';'), raw.find("//")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(raw.len());
    &raw[..cut]
}

/// Removes bpftool's `N:` index and `(xx)` opcode prefix (both optional),
/// returning the opcode of the prefix. The index is not checked; the opcode
/// is (see [`line`]), and decides the encoding where the text alone would
/// not (`(18) r1 = 0x5` is an `ld_imm64`).
fn strip_prefix(mut s: &str) -> (Option<u8>, &str) {
    if let Some(colon) = s.find(':') {
        let head = s[..colon].trim();
        if !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()) {
            s = s[colon + 1..].trim_start();
        }
    }
    if let Some(rest) = s.strip_prefix('(') {
        if let Some(close) = rest.find(')') {
            let inner = rest[..close].trim();
            if inner.len() == 2 && inner.bytes().all(|b| b.is_ascii_hexdigit()) {
                if let Ok(opcode) = u8::from_str_radix(inner, 16) {
                    return (Some(opcode), rest[close + 1..].trim_start());
                }
            }
        }
    }
    (None, s)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A position in one statement's text.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn peek_char(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    /// Consumes `lit` (after whitespace) if the text continues with it.
    fn eat(&mut self, lit: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// Consumes a word (`[A-Za-z0-9_]+`).
    fn word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = self.rest();
        let len = rest.bytes().take_while(|&b| is_word_byte(b)).count();
        if len == 0 {
            return None;
        }
        self.pos += len;
        Some(&rest[..len])
    }

    fn peek_word(&mut self) -> Option<&'a str> {
        let save = self.pos;
        let word = self.word();
        self.pos = save;
        word
    }

    /// Consumes `keyword` if the next word is exactly it.
    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek_word() == Some(keyword) {
            self.word();
            true
        } else {
            false
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.rest().is_empty()
    }
}

/// A register operand as written: its number and whether it was `wN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reg {
    n: u8,
    w: bool,
}

impl Reg {
    fn text(self) -> String {
        format!("{}{}", if self.w { 'w' } else { 'r' }, self.n)
    }
}

/// Reads `rN` / `wN`: `None` when the word does not look like a register,
/// an error when it does but names no register (`r11`).
fn register_token(word: &str) -> Option<Parsed<Reg>> {
    let (w, digits) = match word.as_bytes().first() {
        Some(b'r') => (false, &word[1..]),
        Some(b'w') => (true, &word[1..]),
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.parse::<u8>() {
        Ok(n) if n <= MAX_REG => Some(Ok(Reg { n, w })),
        _ => Some(Err(AsmErrorKind::BadRegister {
            token: word.to_string(),
        })),
    }
}

fn bad_number(token: &str, reason: &str) -> AsmErrorKind {
    AsmErrorKind::BadNumber {
        token: token.to_string(),
        reason: reason.to_string(),
    }
}

fn bad_operand(token: impl Into<String>, expected: &'static str) -> AsmErrorKind {
    AsmErrorKind::BadOperand {
        token: token.into(),
        expected,
    }
}

/// The immediate of a 32-bit operation (ALU, JMP32, a store of 32 bits or
/// less): any value from -2^31 to 2^32-1, kept as its low 32 bits. Only 32
/// bits of the result matter, so `0xffffffff` and `-1` mean the same.
fn imm32(value: i128, token: &str) -> Parsed<i32> {
    if (-(1i128 << 31)..(1i128 << 32)).contains(&value) {
        Ok(value as i64 as u32 as i32)
    } else {
        Err(bad_number(
            token,
            "does not fit a 32-bit immediate (-2147483648 ..= 0xffffffff)",
        ))
    }
}

/// The immediate of a 64-bit operation (ALU64, a 64-bit store, a 64-bit
/// conditional jump), which the machine sign-extends. A decimal value must
/// survive that (-2^31 ..= 2^31-1: `4294967295`, which would become
/// 0xffffffffffffffff, is refused). A hexadecimal one may also be written
/// as the field's bits, 0x80000000 ..= 0xffffffff, as the kernel prints it
/// (`if r1 == 0xffffffff` for -1) and as the LLVM assembler encodes it
/// (`r0 &= 0xffff1234` in BPF selftests), or as the 64-bit value it
/// becomes (`0xffffffffffffff00` for -256).
fn imm_sext(value: i128, token: &str) -> Parsed<i32> {
    let digits = token.trim_start_matches(['+', '-']);
    let hex = digits.starts_with("0x") || digits.starts_with("0X");
    if hex && (0..(1i128 << 32)).contains(&value) {
        return Ok(value as u32 as i32);
    }
    if hex && ((1i128 << 64) - (1i128 << 31)..(1i128 << 64)).contains(&value) {
        return Ok((value - (1i128 << 64)) as i32);
    }
    i32::try_from(value).map_err(|_| {
        bad_number(
            token,
            "does not fit a sign-extended 32-bit immediate (-2147483648 ..= 2147483647, \
             or the field's bits in hexadecimal, up to 0xffffffff)",
        )
    })
}

/// `digits` without a C integer suffix (`U`, `L`, `UL`, `LL`, `ULL`, any
/// case, as in `0xffffffff00000000LL ll`), which the LLVM assembler skips
/// too.
fn strip_integer_suffix(digits: &str) -> &str {
    let body = digits.trim_end_matches(['u', 'U', 'l', 'L']);
    let suffix = digits[body.len()..].to_ascii_lowercase();
    let known = ["u", "l", "ul", "lu", "ll", "ull", "llu"];
    if !body.is_empty() && known.contains(&suffix.as_str()) {
        body
    } else {
        digits
    }
}

/// A signed 16-bit offset.
fn off16(value: i128, token: &str) -> Parsed<i16> {
    i16::try_from(value)
        .map_err(|_| bad_number(token, "does not fit the signed 16-bit offset field"))
}

/// A signed 32-bit pc-relative target (`gotol`, `call pc+N`, `subprog[N]`).
fn rel32(value: i128, token: &str) -> Parsed<i32> {
    i32::try_from(value).map_err(|_| bad_number(token, "does not fit a signed 32-bit offset"))
}

/// A 64-bit `ld_imm64` value: -2^63 ..= 2^64-1.
fn imm64(value: i128, token: &str) -> Parsed<u64> {
    if (i64::MIN as i128..=u64::MAX as i128).contains(&value) {
        Ok(value as u64)
    } else {
        Err(bad_number(token, "does not fit 64 bits"))
    }
}

/// The table row of an operation, by class, source (when it matters) and size.
fn find_row(
    class: Class,
    operation: Operation,
    source: Option<Source>,
    size: Option<Size>,
) -> Option<&'static OpcodeRow> {
    OPCODES.iter().find(|r| {
        r.class == class
            && r.operation == operation
            && source.is_none_or(|s| r.source == s)
            && r.size == size
    })
}

/// Encodes the fields with the row's selector and checks them through the
/// decoder, which reports reserved fields and other table rules.
fn build(
    row: &'static OpcodeRow,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
    next_imm: i32,
) -> Parsed<Instruction> {
    let (src, off, imm) = row.apply_selector(src, off, imm);
    let mut slots = vec![Insn::new(row.opcode, dst, src, off, imm)];
    if row.slots() == 2 {
        slots.push(Insn::new(0, 0, 0, 0, next_imm));
    }
    decode_at(&slots, 0).map_err(|e| AsmErrorKind::Invalid(e.kind))
}

/// Binary ALU operators, longest first so that a prefix never wins.
const ALU_OPERATIONS: [Operation; 14] = [
    Operation::Arsh,
    Operation::SDiv,
    Operation::SMod,
    Operation::Lsh,
    Operation::Rsh,
    Operation::Add,
    Operation::Sub,
    Operation::Mul,
    Operation::Div,
    Operation::Mod,
    Operation::Or,
    Operation::And,
    Operation::Xor,
    Operation::Mov,
];

/// Jump comparisons, longest operator first.
const JUMP_OPERATIONS: [Operation; 11] = [
    Operation::Jsge,
    Operation::Jsle,
    Operation::Jsgt,
    Operation::Jslt,
    Operation::Jeq,
    Operation::Jne,
    Operation::Jge,
    Operation::Jle,
    Operation::Jgt,
    Operation::Jlt,
    Operation::Jset,
];

const ATOMIC_RMW: [Operation; 4] = [
    Operation::AtomicAdd,
    Operation::AtomicOr,
    Operation::AtomicAnd,
    Operation::AtomicXor,
];

const ATOMIC_FUNCTIONS: [Operation; 6] = [
    Operation::AtomicFetchAdd,
    Operation::AtomicFetchOr,
    Operation::AtomicFetchAnd,
    Operation::AtomicFetchXor,
    Operation::AtomicXchg,
    Operation::AtomicCmpxchg,
];

/// `u8`..`u64` / `s8`..`s64`: the width and whether it is signed.
fn memory_type(word: &str) -> Option<(Size, bool)> {
    Some(match word {
        "u8" => (Size::B, false),
        "u16" => (Size::H, false),
        "u32" => (Size::W, false),
        "u64" => (Size::DW, false),
        "s8" => (Size::B, true),
        "s16" => (Size::H, true),
        "s32" => (Size::W, true),
        "s64" => (Size::DW, true),
        _ => return None,
    })
}

fn width(bits: &str) -> Option<Size> {
    match bits {
        "8" => Some(Size::B),
        "16" => Some(Size::H),
        "32" => Some(Size::W),
        "64" => Some(Size::DW),
        _ => None,
    }
}

/// A pointer type as written, with the text for error messages.
struct Typed {
    size: Size,
    signed: bool,
    token: String,
}

/// `(rN +off)`.
struct Address {
    reg: Reg,
    off: i16,
}

struct Parser<'a> {
    cur: Cursor<'a>,
    statement: &'a str,
    /// The opcode of the line's `(xx)` prefix, if it has one.
    prefix: Option<u8>,
    /// Set when the target of the jump or call is a label.
    fixup: Option<Fixup>,
}

impl Parser<'_> {
    fn syntax(&self) -> AsmErrorKind {
        AsmErrorKind::Syntax {
            text: self.statement.to_string(),
        }
    }

    fn expect(&mut self, lit: &str) -> Parsed<()> {
        if self.cur.eat(lit) {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Parsed<()> {
        if self.cur.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    /// True when the next word looks like a register (`r3`, `w12`).
    fn at_register(&mut self) -> bool {
        self.cur
            .peek_word()
            .is_some_and(|w| register_token(w).is_some())
    }

    fn register(&mut self) -> Parsed<Reg> {
        match self.cur.word() {
            Some(word) => register_token(word).unwrap_or_else(|| {
                Err(AsmErrorKind::BadRegister {
                    token: word.to_string(),
                })
            }),
            None => Err(self.syntax()),
        }
    }

    /// A number with optional sign: decimal or `0x` hexadecimal. Returns the
    /// value and the text as written.
    fn number(&mut self) -> Parsed<(i128, String)> {
        self.cur.skip_ws();
        let start = self.cur.pos;
        let negative = if self.cur.eat("-") {
            true
        } else {
            // `(r10 + -8)`, as the LLVM assembler also reads it.
            self.cur.eat("+") && self.cur.eat("-")
        };
        self.cur.skip_ws();
        if let Some(inner) = self.cur.rest().strip_prefix("%[") {
            let name = inner.split(']').next().unwrap_or_default();
            // A selftest's ctx offset (`%[__sk_buff_data]`) is offsetof.
            if let Some(off) = crate::prog_type::symbols::ctx_offset(name) {
                let token = format!("%[{name}]");
                self.cur.pos += token.len();
                let v = i128::from(off);
                return Ok((if negative { -v } else { v }, token));
            }
            return Err(AsmErrorKind::UnresolvedSymbol {
                symbol: name.to_string(),
            });
        }
        let Some(digits) = self.cur.word() else {
            return Err(self.syntax());
        };
        let token = self.cur.text[start..self.cur.pos].to_string();
        let digits = strip_integer_suffix(digits);
        let parsed = match digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u128::from_str_radix(hex, 16)
            }
            None if digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse::<u128>(),
            _ => {
                return Err(bad_number(
                    &token,
                    "not a decimal or 0x-prefixed hexadecimal number",
                ))
            }
        };
        let magnitude = parsed
            .ok()
            .and_then(|v| i128::try_from(v).ok())
            .ok_or_else(|| bad_number(&token, "too large"))?;
        Ok((if negative { -magnitude } else { magnitude }, token))
    }

    /// `pc+N` (the `pc` is optional) as a 16-bit jump offset, or a label
    /// (then 0 until it is resolved).
    fn pc_relative16(&mut self) -> Parsed<i16> {
        match self.jump_target(FixField::Off16)? {
            Some((value, token)) => off16(value, &token),
            None => Ok(0),
        }
    }

    /// `pc+N` (the `pc` is optional) as a 32-bit offset, or a label.
    fn pc_relative32(&mut self) -> Parsed<i32> {
        match self.jump_target(FixField::Imm32)? {
            Some((value, token)) => rel32(value, &token),
            None => Ok(0),
        }
    }

    /// A jump target: `pc+N`, `+N`, `N` (the number is returned), or a
    /// label `name`, `l0_%=`, `1b`, `1f` (recorded as the fixup).
    fn jump_target(&mut self, field: FixField) -> Parsed<Option<(i128, String)>> {
        if self.cur.eat_keyword("pc") {
            return self.number().map(Some);
        }
        if let Some(target) = self.local_label() {
            self.fixup = Some(Fixup { target, field });
            return Ok(None);
        }
        match self.cur.peek_char() {
            Some(c) if c.is_ascii_digit() || matches!(c, '+' | '-' | '%') => {
                return self.number().map(Some)
            }
            _ => {}
        }
        let len = label_len(self.cur.rest());
        if len == 0 {
            return Err(self.syntax());
        }
        let name = self.cur.rest()[..len].to_string();
        self.cur.pos += len;
        self.fixup = Some(Fixup {
            target: Target::Name(name),
            field,
        });
        Ok(None)
    }

    /// `1b` / `1f`, a reference to a numbered local label.
    fn local_label(&mut self) -> Option<Target> {
        let word = self.cur.peek_word()?;
        let forward = match word.as_bytes()[word.len() - 1] {
            b'b' => false,
            b'f' => true,
            _ => return None,
        };
        let digits = &word[..word.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number = digits.parse().ok()?;
        self.cur.word();
        Some(Target::Local { number, forward })
    }

    /// `(u32 *)`.
    fn pointer_type(&mut self) -> Parsed<Typed> {
        self.expect("(")?;
        let word = self.cur.word().ok_or_else(|| self.syntax())?;
        let (size, signed) = memory_type(word)
            .ok_or_else(|| bad_operand(word, "a memory type: u8, u16, u32, u64, s8, s16 or s32"))?;
        self.expect("*")?;
        self.expect(")")?;
        Ok(Typed {
            size,
            signed,
            token: word.to_string(),
        })
    }

    /// An unsigned pointer type (every memory form except sign-extending loads).
    fn unsigned_pointer_type(&mut self) -> Parsed<Typed> {
        let typed = self.pointer_type()?;
        if typed.signed {
            return Err(bad_operand(
                typed.token,
                "an unsigned type: u8, u16, u32 or u64",
            ));
        }
        Ok(typed)
    }

    /// `(rN +off)`, `(rN - 4)`, `(rN + -4)` or `(rN)`.
    fn address(&mut self) -> Parsed<Address> {
        self.expect("(")?;
        let addr = self.bare_address()?;
        self.expect(")")?;
        Ok(addr)
    }

    /// `rN +off`, `rN - 4` or `rN`, without parentheses.
    fn bare_address(&mut self) -> Parsed<Address> {
        let reg = self.register()?;
        let off = match self.cur.peek_char() {
            Some('+') | Some('-') => {
                let (value, token) = self.number()?;
                off16(value, &token)?
            }
            _ => 0,
        };
        Ok(Address { reg, off })
    }

    /// `off:N` / `next_imm:N` suffixes.
    fn suffix(&mut self, name: &str) -> Parsed<Option<(i128, String)>> {
        if !self.cur.eat_keyword(name) {
            return Ok(None);
        }
        self.expect(":")?;
        self.number().map(Some)
    }

    fn statement(&mut self) -> Parsed<Instruction> {
        match self.cur.peek_char() {
            Some('*') => return self.store(),
            Some('.') => return self.directive(),
            _ => {}
        }
        let word = self.cur.word().ok_or_else(|| self.syntax())?;
        match word {
            "may_goto" => Err(AsmErrorKind::Unsupported {
                what: "may_goto".into(),
                reason: "it is JMP32 | JCOND (0xe5), which is not in the opcode table",
            }),
            "exit" => build(
                self.row(Class::Jmp, Operation::Exit, None, None)?,
                0,
                0,
                0,
                0,
                0,
            ),
            "goto" => {
                let off = self.pc_relative16()?;
                build(
                    self.row(Class::Jmp, Operation::Ja, None, None)?,
                    0,
                    0,
                    off,
                    0,
                    0,
                )
            }
            "gotol" => {
                let imm = self.pc_relative32()?;
                build(
                    self.row(Class::Jmp32, Operation::Ja, None, None)?,
                    0,
                    0,
                    0,
                    imm,
                    0,
                )
            }
            "call" => self.call(),
            "callx" => {
                let reg = self.register()?;
                let row = self.row(Class::Jmp, Operation::Callx, None, None)?;
                build(row, reg.n, 0, 0, 0, 0)
            }
            "if" => self.conditional_jump(),
            "lock" => self.atomic_rmw(),
            "store_release" => self.store_release(),
            _ => match register_token(word) {
                Some(dst) => self.register_statement(dst?),
                None => Err(AsmErrorKind::UnknownMnemonic {
                    mnemonic: word.to_string(),
                }),
            },
        }
    }

    /// A row that the syntax guarantees exists (a table without it is a
    /// table change this parser has not caught up with: reported, not a panic).
    fn row(
        &self,
        class: Class,
        operation: Operation,
        source: Option<Source>,
        size: Option<Size>,
    ) -> Parsed<&'static OpcodeRow> {
        find_row(class, operation, source, size).ok_or_else(|| self.syntax())
    }

    fn call(&mut self) -> Parsed<Instruction> {
        if self.cur.eat_keyword("pc") {
            let (value, token) = self.number()?;
            let imm = rel32(value, &token)?;
            // bpftool names the callee of a JITed program: `pc+2#sym`.
            if self.cur.eat("#") && self.cur.word().is_none() {
                return Err(self.syntax());
            }
            let row = self.row(Class::Jmp, Operation::CallLocal, None, None)?;
            return build(row, 0, 0, 0, imm, 0);
        }
        if self.cur.eat_keyword("kernel") {
            self.expect("-")?;
            self.expect_keyword("function")?;
            self.expect("#")?;
            let (value, token) = self.number()?;
            let imm = imm32(value, &token)?;
            let off = match self.suffix("off")? {
                Some((value, token)) => off16(value, &token)?,
                None => 0,
            };
            let row = self.row(Class::Jmp, Operation::CallKfunc, None, None)?;
            return build(row, 0, 0, off, imm, 0);
        }
        let row = self.row(Class::Jmp, Operation::Call, None, None)?;
        let local = self.row(Class::Jmp, Operation::CallLocal, None, None)?;
        if let Some(target) = self.local_label() {
            self.fixup = Some(Fixup {
                target,
                field: FixField::Call {
                    helper: None,
                    symbol: false,
                },
            });
            return build(local, 0, 0, 0, 0, 0);
        }
        if matches!(self.cur.peek_char(), Some(c) if c.is_ascii_digit() || c == '-' || c == '+') {
            let (value, token) = self.number()?;
            return build(row, 0, 0, 0, imm32(value, &token)?, 0);
        }
        self.cur.skip_ws();
        let rest = self.cur.rest();
        // `call %[bpf_map_lookup_elem]`: a selftest's inline-asm operand,
        // which `__imm()` makes the helper's id.
        let (name, symbol) = if let Some(inner) = rest.strip_prefix("%[") {
            let close = inner.find(']').ok_or_else(|| self.syntax())?;
            self.cur.pos += close + 3;
            (&inner[..close], true)
        } else {
            // A helper name (bpftool may print any kernel symbol here, e.g.
            // `__htab_map_lookup_elem`) or a label: everything up to `#` or
            // whitespace.
            let len = rest
                .find(|c: char| c == '#' || c.is_whitespace())
                .unwrap_or(rest.len());
            self.cur.pos += len;
            (&rest[..len], false)
        };
        if name.is_empty() {
            return Err(self.syntax());
        }
        if !symbol && self.cur.eat("#") {
            let (value, token) = self.number()?;
            return build(row, 0, 0, 0, imm32(value, &token)?, 0);
        }
        // A label of that name, if the text defines one, else the helper.
        let helper = helpers::helper_id(name);
        self.fixup = Some(Fixup {
            target: Target::Name(name.to_string()),
            field: FixField::Call { helper, symbol },
        });
        match helper {
            Some(id) => build(row, 0, 0, 0, id, 0),
            None => build(local, 0, 0, 0, 0, 0),
        }
    }

    /// `.8byte N`: one raw instruction slot, as the selftests write an
    /// instruction the assembler has no text for. It must decode as a
    /// one-slot instruction of the opcode table; other directives are
    /// refused.
    fn directive(&mut self) -> Parsed<Instruction> {
        self.expect(".")?;
        let name = self.cur.word().ok_or_else(|| self.syntax())?;
        if name != "8byte" {
            return Err(AsmErrorKind::Unsupported {
                what: format!(".{name}"),
                reason: "the only directive read is `.8byte N`, one whole instruction slot",
            });
        }
        let (value, token) = self.number()?;
        let value = imm64(value, &token)?;
        let slot = Insn::from_bytes(value.to_le_bytes());
        if OPCODES
            .iter()
            .any(|r| r.opcode == slot.opcode && r.slots() == 2)
        {
            return Err(AsmErrorKind::Unsupported {
                what: format!(".8byte {token}"),
                reason: "it is the first slot of an ld_imm64; write the ld_imm64 as text",
            });
        }
        decode_at(&[slot], 0).map_err(|e| AsmErrorKind::Invalid(e.kind))
    }

    fn conditional_jump(&mut self) -> Parsed<Instruction> {
        let dst = self.register()?;
        let operation = JUMP_OPERATIONS
            .into_iter()
            .find(|&op| jump_operator(op).is_some_and(|text| self.cur.eat(text)))
            .ok_or_else(|| self.syntax())?;
        let class = if dst.w { Class::Jmp32 } else { Class::Jmp };
        let (source, src, imm) = if self.at_register() {
            let src = self.register()?;
            Self::same_width(dst, src)?;
            (Source::Reg, src.n, 0)
        } else {
            let (value, token) = self.number()?;
            let imm = if dst.w {
                imm32(value, &token)?
            } else {
                imm_sext(value, &token)?
            };
            (Source::Imm, 0, imm)
        };
        self.expect_keyword("goto")?;
        let off = self.pc_relative16()?;
        let row = self.row(class, operation, Some(source), None)?;
        build(row, dst.n, src, off, imm, 0)
    }

    fn same_width(dst: Reg, src: Reg) -> Parsed<()> {
        if dst.w == src.w {
            Ok(())
        } else {
            Err(bad_operand(
                src.text(),
                "a register of the destination's width (both rN or both wN)",
            ))
        }
    }

    /// `*(u32 *)(r10 -4) = r1` or `= 5`.
    fn store(&mut self) -> Parsed<Instruction> {
        self.expect("*")?;
        let typed = self.unsigned_pointer_type()?;
        let addr = self.address()?;
        self.expect("=")?;
        if self.at_register() {
            let src = self.register()?;
            let row = self.row(Class::Stx, Operation::StoreReg, None, Some(typed.size))?;
            build(row, addr.reg.n, src.n, addr.off, 0, 0)
        } else {
            let (value, token) = self.number()?;
            // A 64-bit store sign-extends its immediate; narrower ones keep
            // its low bits.
            let imm = if typed.size == Size::DW {
                imm_sext(value, &token)?
            } else {
                imm32(value, &token)?
            };
            let row = self.row(Class::St, Operation::StoreImm, None, Some(typed.size))?;
            build(row, addr.reg.n, 0, addr.off, imm, 0)
        }
    }

    /// `lock *(u64 *)(r10 -8) += r1`.
    fn atomic_rmw(&mut self) -> Parsed<Instruction> {
        self.expect("*")?;
        let typed = self.unsigned_pointer_type()?;
        let addr = self.address()?;
        let operation = ATOMIC_RMW
            .into_iter()
            .find(|&op| atomic_operator(op).is_some_and(|text| self.cur.eat(text)))
            .ok_or_else(|| self.syntax())?;
        let src = self.register()?;
        let row = find_row(Class::Stx, operation, None, Some(typed.size))
            .ok_or_else(|| bad_operand(typed.token, "u32 or u64 (atomics are 32 or 64 bits)"))?;
        build(row, addr.reg.n, src.n, addr.off, 0, 0)
    }

    /// `store_release((u64 *)(r1 +8), r2)`.
    fn store_release(&mut self) -> Parsed<Instruction> {
        self.expect("(")?;
        let typed = self.unsigned_pointer_type()?;
        let addr = self.address()?;
        self.expect(",")?;
        let src = self.register()?;
        self.expect(")")?;
        let row = self.row(Class::Stx, Operation::StoreRelease, None, Some(typed.size))?;
        build(row, addr.reg.n, src.n, addr.off, 0, 0)
    }

    /// A statement starting with a register: ALU, loads, `ld_imm64`,
    /// fetching atomics, load-acquire.
    fn register_statement(&mut self, dst: Reg) -> Parsed<Instruction> {
        let operation = ALU_OPERATIONS
            .into_iter()
            .find(|&op| alu_operator(op).is_some_and(|text| self.cur.eat(text)))
            .ok_or_else(|| self.syntax())?;
        if operation != Operation::Mov {
            return self.alu_binary(dst, operation);
        }
        match self.cur.peek_char() {
            Some('*') => return self.load(dst),
            Some('(') => return self.move_sign_extend(dst),
            Some('-') => {
                let save = self.cur.pos;
                self.cur.eat("-");
                if self.at_register() {
                    return self.negate(dst);
                }
                self.cur.pos = save;
                return self.move_immediate(dst);
            }
            Some(c) if c.is_ascii_digit() || c == '+' || c == '%' => {
                return self.move_immediate(dst)
            }
            _ => {}
        }
        if self.at_register() {
            return self.alu_binary(dst, Operation::Mov);
        }
        let word = self.cur.word().ok_or_else(|| self.syntax())?;
        for (prefix, class, operation) in [
            ("le", Class::Alu, Operation::Le),
            ("be", Class::Alu, Operation::Be),
            ("bswap", Class::Alu64, Operation::Bswap),
        ] {
            if let Some(size) = word.strip_prefix(prefix).and_then(width) {
                return self.byte_swap(dst, word, class, operation, size);
            }
        }
        match word {
            "load_acquire" => self.load_acquire(dst),
            "map" | "btf" | "subprog" => self.pseudo_ld_imm64(dst, word),
            "xchg_64" => self.llvm_exchange(dst, Operation::AtomicXchg, Size::DW),
            "xchg32_32" => self.llvm_exchange(dst, Operation::AtomicXchg, Size::W),
            "cmpxchg_64" => self.llvm_exchange(dst, Operation::AtomicCmpxchg, Size::DW),
            "cmpxchg32_32" => self.llvm_exchange(dst, Operation::AtomicCmpxchg, Size::W),
            _ => match word
                .strip_prefix("atomic64_")
                .map(|f| (f, true))
                .or_else(|| word.strip_prefix("atomic_").map(|f| (f, false)))
            {
                Some((function, wide)) => {
                    let operation = ATOMIC_FUNCTIONS
                        .into_iter()
                        .find(|&op| atomic_function(op) == Some(function))
                        .ok_or_else(|| AsmErrorKind::UnknownMnemonic {
                            mnemonic: word.to_string(),
                        })?;
                    self.atomic_function(dst, operation, wide)
                }
                None => Err(AsmErrorKind::UnknownMnemonic {
                    mnemonic: word.to_string(),
                }),
            },
        }
    }

    /// `r1 += r2`, `w1 s/= 3`, `r1 = r2`.
    fn alu_binary(&mut self, dst: Reg, operation: Operation) -> Parsed<Instruction> {
        let class = if dst.w { Class::Alu } else { Class::Alu64 };
        if self.at_register() {
            let src = self.register()?;
            Self::same_width(dst, src)?;
            let row = self.row(class, operation, Some(Source::Reg), None)?;
            build(row, dst.n, src.n, 0, 0, 0)
        } else {
            let (value, token) = self.number()?;
            let imm = if dst.w {
                imm32(value, &token)?
            } else {
                imm_sext(value, &token)?
            };
            let row = self.row(class, operation, Some(Source::Imm), None)?;
            build(row, dst.n, 0, 0, imm, 0)
        }
    }

    /// `r1 = 33`, `w1 = -1`, or `ld_imm64` for `r1 = V ll` and, as bpftool
    /// prints it without `ll`, for `(18) r1 = V`. Without either a value
    /// that does not fit the mov's immediate is an error, never an
    /// `ld_imm64` in its place.
    fn move_immediate(&mut self, dst: Reg) -> Parsed<Instruction> {
        let (value, token) = match self.number() {
            // `r1 = %[map_hash_8b] ll`: a selftest's map (or global
            // variable) address, which only the loader knows.
            Err(AsmErrorKind::UnresolvedSymbol { symbol })
                if self
                    .cur
                    .rest()
                    .strip_prefix(&format!("%[{symbol}]"))
                    .is_some_and(|r| r.trim_start().starts_with("ll")) =>
            {
                return Err(AsmErrorKind::Unsupported {
                    what: format!("%[{symbol}] ll"),
                    reason: "unsupported: maps (the ld_imm64 of an inline-asm operand loads \
                             a map or global variable address)",
                });
            }
            other => other?,
        };
        let ld_imm64 = self.row(Class::Ld, Operation::LdImm64, None, Some(Size::DW))?;
        let wide = self.cur.eat_keyword("ll") || self.prefix == Some(ld_imm64.opcode);
        if !wide {
            if dst.w {
                let row = self.row(Class::Alu, Operation::Mov, Some(Source::Imm), None)?;
                return build(row, dst.n, 0, 0, imm32(value, &token)?, 0);
            }
            let imm = imm_sext(value, &token).map_err(|_| {
                bad_number(
                    &token,
                    "does not fit a sign-extended 32-bit immediate (-2147483648 ..= 2147483647, \
                     or the field's bits in hexadecimal, up to 0xffffffff); \
                     write `ll` after it for a 64-bit constant (ld_imm64)",
                )
            })?;
            let row = self.row(Class::Alu64, Operation::Mov, Some(Source::Imm), None)?;
            return build(row, dst.n, 0, 0, imm, 0);
        }
        if dst.w {
            return Err(bad_operand(
                dst.text(),
                "an rN destination (ld_imm64 loads 64 bits)",
            ));
        }
        let value = imm64(value, &token)?;
        build(
            ld_imm64,
            dst.n,
            0,
            0,
            value as u32 as i32,
            (value >> 32) as u32 as i32,
        )
    }

    /// `r1 = -r1`.
    fn negate(&mut self, dst: Reg) -> Parsed<Instruction> {
        let src = self.register()?;
        if src != dst {
            return Err(bad_operand(
                src.text(),
                "the destination register (negation is in place)",
            ));
        }
        let class = if dst.w { Class::Alu } else { Class::Alu64 };
        build(
            self.row(class, Operation::Neg, None, None)?,
            dst.n,
            0,
            0,
            0,
            0,
        )
    }

    /// `r1 = (s8)r2`.
    fn move_sign_extend(&mut self, dst: Reg) -> Parsed<Instruction> {
        self.expect("(")?;
        let word = self.cur.word().ok_or_else(|| self.syntax())?;
        self.expect(")")?;
        let src = self.register()?;
        Self::same_width(dst, src)?;
        let class = if dst.w { Class::Alu } else { Class::Alu64 };
        let row = memory_type(word)
            .filter(|&(_, signed)| signed)
            .and_then(|(size, _)| find_row(class, Operation::MovSx, None, Some(size)))
            .ok_or_else(|| {
                bad_operand(
                    format!("({word})"),
                    "(s8), (s16) or, for 64-bit moves, (s32)",
                )
            })?;
        build(row, dst.n, src.n, 0, 0, 0)
    }

    /// `r0 = be16 r0`, `r0 = le32 r0`, `r0 = bswap64 r0`.
    fn byte_swap(
        &mut self,
        dst: Reg,
        word: &str,
        class: Class,
        operation: Operation,
        size: Size,
    ) -> Parsed<Instruction> {
        let operand = self.register()?;
        if operand.n != dst.n {
            return Err(bad_operand(
                operand.text(),
                "the destination register (byte swaps are in place)",
            ));
        }
        let row = find_row(class, operation, None, Some(size)).ok_or_else(|| {
            AsmErrorKind::UnknownMnemonic {
                mnemonic: word.to_string(),
            }
        })?;
        build(row, dst.n, 0, 0, 0, 0)
    }

    /// `r0 = *(u32 *)(r1 +4)`, `r0 = *(s16 *)(r1 +4)`, `r0 = *(u16 *)skb[12]`,
    /// `r0 = *(u8 *)skb[r1 + 12]`.
    fn load(&mut self, dst: Reg) -> Parsed<Instruction> {
        self.expect("*")?;
        let typed = self.pointer_type()?;
        if self.cur.eat_keyword("skb") {
            return self.packet_load(dst, typed);
        }
        let addr = self.address()?;
        let operation = if typed.signed {
            Operation::LoadSx
        } else {
            Operation::Load
        };
        let row = find_row(Class::Ldx, operation, None, Some(typed.size))
            .ok_or_else(|| bad_operand(typed.token, "u8..u64, or s8, s16 or s32"))?;
        build(row, dst.n, addr.reg.n, addr.off, 0, 0)
    }

    /// Legacy packet loads; they always write r0.
    fn packet_load(&mut self, dst: Reg, typed: Typed) -> Parsed<Instruction> {
        if typed.signed {
            return Err(bad_operand(typed.token, "u8, u16 or u32"));
        }
        if dst.n != 0 {
            return Err(bad_operand(
                dst.text(),
                "r0 (legacy packet loads always write r0)",
            ));
        }
        self.expect("[")?;
        let (operation, src, imm) = if self.at_register() {
            let src = self.register()?;
            let imm = if self.cur.eat("+") {
                let (value, token) = self.number()?;
                imm32(value, &token)?
            } else if self.cur.eat("-") {
                let (value, token) = self.number()?;
                imm32(-value, &format!("-{token}"))?
            } else {
                0
            };
            (Operation::LdInd, src.n, imm)
        } else {
            let (value, token) = self.number()?;
            (Operation::LdAbs, 0, imm32(value, &token)?)
        };
        self.expect("]")?;
        let row = find_row(Class::Ld, operation, None, Some(typed.size))
            .ok_or_else(|| bad_operand(typed.token, "u8, u16 or u32"))?;
        build(row, 0, src, 0, imm, 0)
    }

    /// `r1 = load_acquire((u8 *)(r2 +0))`.
    fn load_acquire(&mut self, dst: Reg) -> Parsed<Instruction> {
        self.expect("(")?;
        let typed = self.unsigned_pointer_type()?;
        let addr = self.address()?;
        self.expect(")")?;
        let row = self.row(Class::Stx, Operation::LoadAcquire, None, Some(typed.size))?;
        build(row, dst.n, addr.reg.n, addr.off, 0, 0)
    }

    /// `r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)`, `atomic_xchg`,
    /// `r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)`. The LLVM assembler
    /// writes `atomic_fetch_add` for both widths, the type telling which,
    /// so `atomic_` takes u32 or u64 and `atomic64_` only u64.
    fn atomic_function(
        &mut self,
        dst: Reg,
        operation: Operation,
        wide: bool,
    ) -> Parsed<Instruction> {
        self.expect("(")?;
        let typed = self.unsigned_pointer_type()?;
        if (wide && typed.size != Size::DW) || typed.size.bytes() < 4 {
            return Err(bad_operand(
                typed.token,
                "u32 or u64 for atomic_* functions, u64 for atomic64_* functions",
            ));
        }
        let addr = self.address()?;
        self.expect(",")?;
        let src = self.atomic_operands(dst, operation)?;
        self.expect(")")?;
        let row = self.row(Class::Stx, operation, None, Some(typed.size))?;
        build(row, addr.reg.n, src.n, addr.off, 0, 0)
    }

    /// LLVM's `r1 = xchg_64(r10 - 8, r1)`, `w1 = xchg32_32(r10 - 8, w1)`,
    /// `r0 = cmpxchg_64(r10 - 8, r0, r1)`, `w0 = cmpxchg32_32(r10 - 8, w0, w1)`.
    fn llvm_exchange(&mut self, dst: Reg, operation: Operation, size: Size) -> Parsed<Instruction> {
        self.expect("(")?;
        let addr = self.bare_address()?;
        self.expect(",")?;
        let src = self.atomic_operands(dst, operation)?;
        self.expect(")")?;
        let row = self.row(Class::Stx, operation, None, Some(size))?;
        build(row, addr.reg.n, src.n, addr.off, 0, 0)
    }

    /// The register operands of a fetching atomic after the address:
    /// `r0, r2` for cmpxchg (r0 both sides), else the register on the left
    /// of `=`. Returns the source register.
    fn atomic_operands(&mut self, dst: Reg, operation: Operation) -> Parsed<Reg> {
        let src = if operation == Operation::AtomicCmpxchg {
            let compared = self.register()?;
            if compared.n != 0 || dst.n != 0 {
                let token = if dst.n != 0 { dst } else { compared };
                return Err(bad_operand(
                    token.text(),
                    "r0 (cmpxchg compares with and returns in r0)",
                ));
            }
            self.expect(",")?;
            self.register()?
        } else {
            let src = self.register()?;
            if src.n != dst.n {
                return Err(bad_operand(
                    src.text(),
                    "the register on the left of `=` (the old value goes to the source register)",
                ));
            }
            src
        };
        Ok(src)
    }

    /// `map[fd:3]`, `map[fd:3][0]+8`, `map[idx:1]`, `map[idx:1][0]+8`,
    /// `btf[id:5]`, `subprog[+2]`, each optionally followed by `next_imm:N`
    /// (except the value forms, whose second immediate is the offset).
    fn pseudo_ld_imm64(&mut self, dst: Reg, word: &str) -> Parsed<Instruction> {
        if dst.w {
            return Err(bad_operand(
                dst.text(),
                "an rN destination (ld_imm64 loads 64 bits)",
            ));
        }
        self.expect("[")?;
        let (operation, imm, next_imm) = if word == "subprog" {
            let (value, token) = self.number()?;
            let imm = rel32(value, &token)?;
            self.expect("]")?;
            (Operation::LdFunc, imm, None)
        } else {
            let kind = self.cur.word().ok_or_else(|| self.syntax())?;
            self.expect(":")?;
            let (value, token) = self.number()?;
            let imm = imm32(value, &token)?;
            self.expect("]")?;
            let by_index = match (word, kind) {
                ("map", "fd") | ("map", "id") => false,
                ("map", "idx") => true,
                ("btf", "id") => {
                    return self.finish_pseudo(dst, Operation::LdBtfId, imm, None);
                }
                _ => {
                    return Err(bad_operand(
                        format!("{word}[{kind}"),
                        "map[fd:N], map[idx:N] or btf[id:N]",
                    ))
                }
            };
            if self.cur.eat("[") {
                let (zero, token) = self.number()?;
                if zero != 0 {
                    return Err(bad_operand(token, "0 (the map has one value per entry 0)"));
                }
                self.expect("]")?;
                let offset = match self.cur.peek_char() {
                    Some('+') | Some('-') => {
                        let (value, token) = self.number()?;
                        imm32(value, &token)?
                    }
                    _ => 0,
                };
                let operation = if by_index {
                    Operation::LdMapIdxValue
                } else {
                    Operation::LdMapValue
                };
                (operation, imm, Some(offset))
            } else if by_index {
                (Operation::LdMapIdx, imm, None)
            } else {
                (Operation::LdMapFd, imm, None)
            }
        };
        self.finish_pseudo(dst, operation, imm, next_imm)
    }

    fn finish_pseudo(
        &mut self,
        dst: Reg,
        operation: Operation,
        imm: i32,
        next_imm: Option<i32>,
    ) -> Parsed<Instruction> {
        let next_imm = match next_imm {
            Some(v) => v,
            None => match self.suffix("next_imm")? {
                Some((value, token)) => imm32(value, &token)?,
                None => 0,
            },
        };
        let row = self.row(Class::Ld, operation, None, Some(Size::DW))?;
        build(row, dst.n, 0, 0, imm, next_imm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{DecodeErrorKind, Field};

    fn error(text: &str) -> AsmError {
        program(text)
            .err()
            .unwrap_or_else(|| panic!("`{text}` should not assemble"))
    }

    #[test]
    fn unknown_mnemonic_names_the_line() {
        let e = error("r0 = 1\nfoo r1\nexit");
        assert_eq!(e.line, 2);
        assert_eq!(
            e.kind,
            AsmErrorKind::UnknownMnemonic {
                mnemonic: "foo".into()
            }
        );
        assert_eq!(e.to_string(), "line 2: unknown mnemonic `foo`");
        let e = error("\n\nr1 = atomic_fetch_nand((u32 *)(r2 +0), r1)");
        assert_eq!(e.line, 3);
        assert!(
            matches!(e.kind, AsmErrorKind::UnknownMnemonic { .. }),
            "{e}"
        );
        assert!(matches!(
            error("r0 = le8 r0").kind,
            AsmErrorKind::UnknownMnemonic { .. }
        ));
    }

    #[test]
    fn register_r11_is_refused_wherever_a_register_goes() {
        for text in [
            "r11 = 1",
            "r1 = r11",
            "w1 += w12",
            "if r11 == r1 goto pc+1",
            "*(u32 *)(r11 +0) = 1",
            "callx r15",
            "r0 = *(u8 *)skb[r99 + 1]",
            "lock *(u64 *)(r10 -8) += r300",
        ] {
            let e = error(text);
            assert_eq!(e.line, 1);
            assert!(
                matches!(&e.kind, AsmErrorKind::BadRegister { token } if token.starts_with(['r', 'w'])),
                "`{text}`: {e}"
            );
        }
        let e = error("exit\nr11 = 1");
        assert_eq!(
            (e.line, e.kind),
            (
                2,
                AsmErrorKind::BadRegister {
                    token: "r11".into()
                }
            )
        );
    }

    #[test]
    fn bad_numbers_are_reported_with_their_text() {
        for (text, token) in [
            ("r1 += 0xzz", "0xzz"),
            ("r1 = 12abc", "12abc"),
            ("w1 = 0x100000000", "0x100000000"),
            ("r1 += 4294967296", "4294967296"),
            ("r1 += -2147483649", "-2147483649"),
            ("goto pc+32768", "+32768"),
            ("*(u32 *)(r10 -32769) = 1", "-32769"),
            ("r1 = 0x10000000000000000 ll", "0x10000000000000000"),
            ("call pc+2147483648", "+2147483648"),
            ("r1 = 99999999999", "99999999999"),
            ("r1 = 0x180000000", "0x180000000"),
            ("if r1 == 0x100000000 goto pc+1", "0x100000000"),
            ("if r1 == -0x80000001 goto pc+1", "-0x80000001"),
            ("(18) r1 = 0x10000000000000000", "0x10000000000000000"),
        ] {
            let e = error(text);
            assert!(
                matches!(&e.kind, AsmErrorKind::BadNumber { token: t, .. } if t == token),
                "`{text}`: {e}"
            );
        }
    }

    #[test]
    fn malformed_lines_are_syntax_errors() {
        for text in [
            "r1 = = 2",
            "r1",
            "r1 ?= 2",
            "if r1 > r2 goto",
            "if r1 r2 goto pc+1",
            "*(u32 *)(r10 -4 = r1",
            "r1 = 33 44",
            "exit now",
            "@@@",
            "r1 = map[fd:3",
            "7:",
        ] {
            let e = error(text);
            assert!(
                matches!(e.kind, AsmErrorKind::Syntax { .. }),
                "`{text}`: {e}"
            );
        }
    }

    #[test]
    fn operands_of_the_wrong_form_are_named() {
        for (text, token) in [
            ("w1 += r2", "r2"),
            ("if r1 == w2 goto pc+1", "w2"),
            ("r1 = -r2", "r2"),
            ("r0 = be16 r1", "r1"),
            ("w1 = (s32)w2", "(s32)"),
            ("r0 = *(s64 *)(r1 +0)", "s64"),
            ("*(s32 *)(r1 +0) = 1", "s32"),
            ("lock *(u8 *)(r1 +0) += r2", "u8"),
            // LLVM writes atomic_fetch_add for both widths; atomic64_ is u64.
            ("r1 = atomic64_fetch_add((u32 *)(r2 +0), r1)", "u32"),
            ("r1 = atomic_fetch_add((u16 *)(r2 +0), r1)", "u16"),
            ("r2 = atomic_fetch_add((u32 *)(r2 +0), r1)", "r1"),
            ("r1 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)", "r1"),
            ("r3 = *(u32 *)skb[4]", "r3"),
            ("w1 = 5 ll", "w1"),
            ("r1 = map[fd:3][1]+0", "1"),
            ("r1 = btf[fd:3]", "btf[fd"),
            ("call no_such_helper", "no_such_helper"),
            ("r0 = *(u17 *)(r1 +0)", "u17"),
        ] {
            let e = error(text);
            assert!(
                matches!(&e.kind, AsmErrorKind::BadOperand { token: t, .. } if t == token),
                "`{text}`: {e}"
            );
        }
    }

    #[test]
    fn only_two_hex_digits_in_parentheses_are_an_opcode_prefix() {
        assert_eq!(strip_prefix("0: (b7) r0 = 1"), (Some(0xb7), "r0 = 1"));
        assert_eq!(strip_prefix("  12:(DB)exit"), (Some(0xdb), "exit"));
        assert_eq!(strip_prefix("(+f) r0 = 1"), (None, "(+f) r0 = 1"));
        assert_eq!(strip_prefix("(b7 r0 = 1"), (None, "(b7 r0 = 1"));
        assert_eq!(strip_prefix("r0 = 1"), (None, "r0 = 1"));
    }

    #[test]
    fn table_violations_are_invalid() {
        // build() checks through the decoder: exit has every field reserved
        // (RFC 9669 §4.3), so a nonzero imm is refused.
        let exit = find_row(Class::Jmp, Operation::Exit, None, None).unwrap();
        assert_eq!(
            build(exit, 0, 0, 0, 1, 0),
            Err(AsmErrorKind::Invalid(DecodeErrorKind::ReservedField {
                opcode: 0x95,
                mnemonic: "exit",
                field: Field::Imm,
                value: 1,
            }))
        );
    }

    #[test]
    fn blank_and_comment_lines_hold_no_instruction() {
        assert_eq!(program(""), Ok(vec![]));
        // bpftool prints a function's BTF prototype before its first line.
        assert_eq!(program("int xdp_prog(struct xdp_md * ctx):"), Ok(vec![]));
        assert_eq!(program("   ; int x = 0;"), Ok(vec![]));
        assert_eq!(program("// a comment"), Ok(vec![]));
        assert_eq!(program("/* a\n comment */"), Ok(vec![]));
        assert_eq!(program("\n\n").unwrap(), vec![]);
    }
}
