//! The regions a program may touch, with bounds checks and the
//! pointer-derived marks of every byte.
//!
//! Two regions exist: the input memory at [`MEM_BASE`] and the stack, which
//! grows down from [`STACK_TOP`] by [`STACK_SIZE`] bytes per live frame.
//! Bytes of frames that have returned are not addressable.
//!
//! Every frame starts zeroed. Instead of clearing 512 bytes per call, the
//! stack keeps one "written" bit per byte: a byte not written since its frame
//! was entered reads as zero (and the first such read is remembered, since
//! the kernel would return garbage there). Entering a frame clears 8 words of
//! bits, and the stack buffer itself is reused between runs. A second bit per
//! stack byte marks pointer-derived bytes; it means something only where the
//! written bit is set, so entering a frame leaves it alone.
//!
//! Loads and stores have inline fast paths for the common case (a number
//! in written stack bytes without marks, or in an input without marks) and
//! a general path for everything else.
//!
//! Every access names the regions its base may address (the base's
//! provenance [`Tag`]); an address is resolved only within those, so an
//! address computed from one region's pointer never reaches another. A
//! marked byte keeps the tag of the value stored there (stack: one tag
//! byte per stack byte, read only where the mark bit is set), so a pointer
//! spilled and filled keeps its region.

use super::byte_bits::{ByteBits, WordMask, BYTES as STACK_BYTES};
use super::provenance::{Tag, CTX, INPUT, MAP, OPAQUE, STACK};
use super::{CTX_BASE, MAP_PTR_BASE, MAP_VALUE_BASE, MEM_BASE, STACK_SIZE, STACK_TOP};
use crate::maps::MapSet;
use crate::prog_type::env::{CtxModel, PacketPlace};
use std::cell::RefCell;

const STACK_BASE: u64 = STACK_TOP - STACK_BYTES as u64;

/// The stack's bytes and, per byte, the provenance tag of a marked byte
/// (meaningful only where both the written and the marked bit are set).
struct StackCells {
    bytes: Box<[u8; STACK_BYTES]>,
    tags: Box<[Tag; STACK_BYTES]>,
}

impl StackCells {
    /// Zeroed cells.
    fn new() -> StackCells {
        StackCells {
            bytes: Box::new([0; STACK_BYTES]),
            tags: Box::new([0; STACK_BYTES]),
        }
    }
}

thread_local! {
    /// A stack buffer kept between runs on this thread (its old contents
    /// are never visible: unwritten bytes read as zero).
    static SPARE_STACK: RefCell<Option<StackCells>> = const { RefCell::new(None) };
}

/// Which region an address resolved to, and the byte index within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Input(usize),
    Stack(usize),
    Ctx(usize),
    /// A map value byte, by its offset from `MAP_VALUE_BASE` (map, slot
    /// and byte are decoded by [`split_map_offset`]; one word keeps a
    /// place small enough to come back in registers).
    Map(u64),
}

/// The memory of one run.
pub(super) struct Memory<'a> {
    input: &'a mut [u8],
    /// Per input byte: its provenance tag, 0 when not pointer-derived
    /// (empty while no byte is).
    input_shadow: Vec<Tag>,
    stack: Option<StackCells>,
    /// Stack bytes written since their frame was entered.
    stack_written: ByteBits,
    /// Stack bytes holding part of a pointer-derived value (meaningful only
    /// where written).
    stack_marked: ByteBits,
    /// The first instruction that read a stack byte never written.
    uninit_read_pc: Option<usize>,
    /// Lowest addressable stack address (the bottom of the deepest live frame).
    stack_low: u64,
    /// `STACK_TOP - stack_low`: the addressable stack bytes.
    stack_span: u64,
    /// The ctx of a packet program type, at [`CTX_BASE`].
    ctx: Option<&'a mut CtxModel>,
    /// Per ctx byte: its provenance tag (empty while no byte is marked).
    ctx_shadow: Vec<Tag>,
    /// The maps of the run (map values are a region, [`MAP`]).
    maps: Option<&'a mut MapSet>,
    /// A packet type's link-layer bytes before `input` (a socket filter's
    /// pulled Ethernet header; empty for tc), which `LD_ABS`/`LD_IND`
    /// reach with `SKF_LL_OFF`; `None` in the input model.
    link_head: Option<&'a [u8]>,
    /// The addressable part of `input`, `[window_lo, window_hi)`: the whole
    /// input, except for XDP, whose input is the test run's frame buffer
    /// (headroom, packet, tailroom) with the window `data..data_end`, which
    /// `bpf_xdp_adjust_head`/`_tail` move ([`super::xdp_adjust`]).
    window_lo: u64,
    /// See `window_lo`.
    window_hi: u64,
    /// True when `input` is an XDP frame buffer whose window the XDP
    /// helpers may move.
    xdp_frame: bool,
    /// The XDP packet continues in fragments after the window.
    xdp_has_frags: bool,
}

/// `SKF_NET_OFF` (include/uapi/linux/filter.h): negative `LD_ABS`/`LD_IND`
/// offsets from here on are relative to the network header.
const SKF_NET_OFF: i64 = -0x100000;
/// `SKF_LL_OFF`: offsets from here to `SKF_NET_OFF` are relative to the
/// link-layer (mac) header.
const SKF_LL_OFF: i64 = -0x200000;
/// `ETH_HLEN`: `BPF_PROG_TEST_RUN` sets the network header after the
/// Ethernet header (`eth_type_trans`, `skb_reset_network_header`).
const ETH_HLEN: i64 = 14;

/// The `N` bytes of `bytes` at `i`, as an array (bounds-checked).
#[inline(always)]
fn fixed<const N: usize>(bytes: &[u8], i: usize) -> [u8; N] {
    bytes[i..i + N]
        .try_into()
        .expect("a slice of N bytes is an array of N bytes")
}

/// Reads `size` (1, 2, 4 or 8) bytes at `i`, little-endian, zero-extended.
#[inline(always)]
fn read_le(bytes: &[u8], i: usize, size: usize) -> u64 {
    match size {
        1 => bytes[i] as u64,
        2 => u16::from_le_bytes(fixed(bytes, i)) as u64,
        4 => u32::from_le_bytes(fixed(bytes, i)) as u64,
        _ => u64::from_le_bytes(fixed(bytes, i)),
    }
}

/// Writes the low `size` (1, 2, 4 or 8) bytes of `value` at `i`,
/// little-endian: one fixed-size store per width (no buffer on the stack,
/// which would keep the interpreter's handlers from tail-calling).
#[inline(always)]
fn write_le(bytes: &mut [u8], i: usize, size: usize, value: u64) {
    #[inline(always)]
    fn at<const N: usize>(bytes: &mut [u8], i: usize) -> &mut [u8; N] {
        (&mut bytes[i..i + N])
            .try_into()
            .expect("a slice of N bytes is an array of N bytes")
    }
    match size {
        1 => bytes[i] = value as u8,
        2 => *at::<2>(bytes, i) = (value as u16).to_le_bytes(),
        4 => *at::<4>(bytes, i) = (value as u32).to_le_bytes(),
        _ => *at::<8>(bytes, i) = value.to_le_bytes(),
    }
}

/// Map, element slot and value byte of an offset from `MAP_VALUE_BASE`.
fn split_map_offset(rel: u64) -> (usize, usize, usize) {
    (
        (rel >> 32) as usize,
        ((rel >> 16) & 0xffff) as usize,
        (rel & 0xffff) as usize,
    )
}

impl<'a> Memory<'a> {
    /// Memory for a run on `input`, with frame 0 live and nothing written.
    pub fn new(input: &'a mut [u8]) -> Memory<'a> {
        let input_len = input.len() as u64;
        let stack = SPARE_STACK
            .with(|s| s.borrow_mut().take())
            .unwrap_or_else(StackCells::new);
        Memory {
            input,
            input_shadow: Vec::new(),
            stack: Some(stack),
            stack_written: ByteBits::new(),
            stack_marked: ByteBits::new(),
            uninit_read_pc: None,
            stack_low: STACK_TOP - STACK_SIZE as u64,
            stack_span: STACK_SIZE as u64,
            ctx: None,
            ctx_shadow: Vec::new(),
            maps: None,
            link_head: None,
            window_lo: 0,
            window_hi: input_len,
            xdp_frame: false,
            xdp_has_frags: false,
        }
    }

    /// Memory for a run on `input` (the packet from `data` on) with `ctx`
    /// at [`CTX_BASE`]; `link_head` is the part of the link-layer header
    /// before `input` (see [`Memory::load_packet_be`]).
    pub fn with_ctx(input: &'a mut [u8], ctx: &'a mut CtxModel, link_head: &'a [u8]) -> Memory<'a> {
        let mut m = Memory::new(input);
        m.ctx = Some(ctx);
        m.link_head = Some(link_head);
        m
    }

    /// The same memory, with `input` an XDP frame buffer whose packet (the
    /// window `data..data_end`) is `packet`: only the window is
    /// addressable, and `bpf_xdp_adjust_head`/`_tail` move its ends.
    /// `has_frags`: the packet continues in fragments the window does not
    /// reach.
    pub fn with_xdp_window(
        mut self,
        packet: std::ops::Range<usize>,
        has_frags: bool,
    ) -> Memory<'a> {
        debug_assert!(packet.start <= packet.end && packet.end <= self.input.len());
        self.window_lo = packet.start as u64;
        self.window_hi = packet.end as u64;
        self.xdp_frame = true;
        self.xdp_has_frags = has_frags;
        self
    }

    /// True when the XDP packet continues in fragments.
    pub fn xdp_has_frags(&self) -> bool {
        self.xdp_has_frags
    }

    /// True when the input is an XDP frame buffer (see
    /// [`Memory::with_xdp_window`]).
    pub fn has_xdp_frame(&self) -> bool {
        self.xdp_frame
    }

    /// The window `(data, data_end)` as offsets into the input buffer.
    pub fn window(&self) -> (usize, usize) {
        (self.window_lo as usize, self.window_hi as usize)
    }

    /// The whole input buffer (for XDP the frame, headroom included).
    pub fn buffer_len(&self) -> usize {
        self.input.len()
    }

    /// Moves the window to `lo..hi` (offsets into the input buffer, within
    /// it); bytes newly exposed at the end are zeroed and unmarked when
    /// `zero_grown_tail` is set (`bpf_xdp_adjust_tail` clears what it
    /// grows).
    pub fn set_window(&mut self, lo: usize, hi: usize, zero_grown_tail: bool) {
        debug_assert!(lo <= hi && hi <= self.input.len());
        let old_hi = self.window_hi as usize;
        if zero_grown_tail && hi > old_hi {
            self.input[old_hi..hi].fill(0);
            if !self.input_shadow.is_empty() {
                self.input_shadow[old_hi..hi].fill(0);
            }
        }
        self.window_lo = lo as u64;
        self.window_hi = hi as u64;
    }

    /// The same memory with `maps` (if any) reachable.
    pub fn with_maps(mut self, maps: Option<&'a mut MapSet>) -> Memory<'a> {
        self.maps = maps;
        self
    }

    /// True when the run has maps.
    #[inline(always)]
    pub fn has_maps(&self) -> bool {
        self.maps.is_some()
    }

    /// True when the run has a native program type's ctx (socket filter,
    /// tc, xdp).
    pub fn has_ctx(&self) -> bool {
        self.ctx.is_some()
    }

    /// True when the ctx is a `struct __sk_buff` (socket filter, tc).
    pub fn has_skb_ctx(&self) -> bool {
        self.ctx.as_ref().is_some_and(|c| {
            matches!(
                c.prog_type,
                crate::prog_type::ProgType::SocketFilter | crate::prog_type::ProgType::SchedCls
            )
        })
    }

    /// The maps of the run, if any.
    pub fn maps(&mut self) -> Option<&mut MapSet> {
        self.maps.as_deref_mut()
    }

    /// The map whose pointer is `value` (`MAP_PTR_BASE + i`).
    pub fn map_index(&self, value: u64) -> Option<usize> {
        let i = usize::try_from(value.checked_sub(MAP_PTR_BASE)?).ok()?;
        (i < self.maps.as_ref()?.maps.len()).then_some(i)
    }

    /// The place of `size` bytes at `addr` within one live-or-dead map
    /// element's value (a deleted hash element's value stays addressable,
    /// as the kernel's preallocated element does).
    #[cold]
    #[inline(never)]
    fn map_place(&self, addr: u64, size: usize) -> Option<Place> {
        let rel = addr.checked_sub(MAP_VALUE_BASE)?;
        let (m, s, off) = split_map_offset(rel);
        let map = self.maps.as_ref()?.maps.get(m)?;
        let slot = map.slots.get(s)?;
        (off + size <= slot.value.len()).then_some(Place::Map(rel))
    }

    /// A load from a resolved map value place.
    #[cold]
    #[inline(never)]
    fn map_load(&self, rel: u64, size: usize) -> (u64, Tag) {
        let (m, s, off) = split_map_offset(rel);
        let maps = self.maps.as_ref().expect("a map place has maps");
        let slot = &maps.maps[m].slots[s];
        let tag = slot.marks[off..off + size].iter().fold(0, |t, &b| t | b);
        (read_le(&slot.value, off, size), tag)
    }

    /// A store into a resolved map value place.
    #[cold]
    #[inline(never)]
    fn map_store(&mut self, rel: u64, size: usize, value: u64, tag: Tag) {
        let (m, s, off) = split_map_offset(rel);
        let maps = self.maps.as_mut().expect("a map place has maps");
        let slot = &mut maps.maps[m].slots[s];
        write_le(&mut slot.value, off, size, value);
        slot.marks[off..off + size].fill(tag);
    }

    /// Length of the addressable input (the packet: `data_end - data`).
    pub fn input_len(&self) -> usize {
        (self.window_hi - self.window_lo) as usize
    }

    /// Makes `depth + 1` frames addressable (depth 0 = frame 0 only).
    #[inline(always)]
    pub fn set_depth(&mut self, depth: usize) {
        self.stack_span = ((depth + 1) * STACK_SIZE) as u64;
        self.stack_low = STACK_TOP - self.stack_span;
    }

    /// Enters frame `depth` (≥ 1): makes it addressable and marks all its
    /// bytes unwritten, so it reads as zeroed (and unmarked) whatever an
    /// earlier call left.
    #[inline(always)]
    pub fn enter_frame(&mut self, depth: usize) {
        self.set_depth(depth);
        self.stack_written
            .clear_frame((self.stack_low - STACK_BASE) as usize);
    }

    /// The stack index of `addr` when `size` bytes there are in a live
    /// frame. (The span of live frames is at least one frame, so never
    /// below `size`.)
    #[inline(always)]
    fn stack_index(&self, addr: u64, size: usize) -> Option<usize> {
        if addr.wrapping_sub(self.stack_low) <= self.stack_span - size as u64 {
            Some((addr - STACK_BASE) as usize)
        } else {
            None
        }
    }

    /// The input index of `addr` when `size` bytes there are in the
    /// input's addressable window.
    #[inline(always)]
    fn input_index(&self, addr: u64, size: usize) -> Option<usize> {
        let off = addr.wrapping_sub(MEM_BASE).wrapping_sub(self.window_lo);
        let len = self.window_hi - self.window_lo;
        // `off < len` bounds `off` far below u64::MAX, so the sum cannot wrap.
        if off < len && off + size as u64 <= len {
            Some((off + self.window_lo) as usize)
        } else {
            None
        }
    }

    /// The ctx index of `addr` when `size` bytes there are in the ctx.
    fn ctx_index(&self, addr: u64, size: usize) -> Option<usize> {
        let len = self.ctx.as_ref()?.bytes.len() as u64;
        let off = addr.wrapping_sub(CTX_BASE);
        (off < len && off + size as u64 <= len).then_some(off as usize)
    }

    /// The place of `size` bytes at `addr` within one of the regions in
    /// `regions` (a provenance tag): other regions are not looked at.
    fn resolve(&self, addr: u64, size: usize, regions: Tag) -> Option<Place> {
        if regions & STACK != 0 {
            if let Some(i) = self.stack_index(addr, size) {
                return Some(Place::Stack(i));
            }
        }
        if regions & INPUT != 0 {
            if let Some(i) = self.input_index(addr, size) {
                return Some(Place::Input(i));
            }
        }
        if regions & CTX != 0 {
            if let Some(i) = self.ctx_index(addr, size) {
                return Some(Place::Ctx(i));
            }
        }
        if regions & MAP != 0 {
            return self.map_place(addr, size);
        }
        None
    }

    /// The union of the tags of `shadow[i..i + size]` (0 for an empty
    /// shadow).
    fn shadow_tag(shadow: &[Tag], i: usize, size: usize) -> Tag {
        if shadow.is_empty() {
            0
        } else {
            shadow[i..i + size].iter().fold(0, |t, &b| t | b)
        }
    }

    /// A load from the ctx: pointer fields give packet addresses, opaque
    /// fields marked values, others their bytes.
    fn ctx_load(&self, i: usize, size: usize) -> (u64, Tag) {
        let ctx = self.ctx.as_ref().expect("a ctx place has a ctx");
        if size == 4 {
            if let Some(&(_, place)) = ctx.pointers.iter().find(|&&(o, _)| o == i) {
                let at = match place {
                    PacketPlace::Start => self.window_lo,
                    PacketPlace::End => self.window_hi,
                };
                return (MEM_BASE + at, INPUT);
            }
        }
        let opaque = if ctx.is_opaque(i, size) { OPAQUE } else { 0 };
        let tag = opaque | Self::shadow_tag(&self.ctx_shadow, i, size);
        let value = ctx
            .narrow_load(i, size)
            .unwrap_or_else(|| read_le(&ctx.bytes, i, size));
        (value, tag)
    }

    /// A store into the ctx, through the field's width rules.
    fn ctx_store(&mut self, i: usize, size: usize, value: u64, tag: Tag) {
        let ctx = self.ctx.as_mut().expect("a ctx place has a ctx");
        if let Some(v) = ctx.stored_value(i, value) {
            write_le(&mut ctx.bytes, i, size, v);
            let len = ctx.bytes.len();
            let shadow = &mut self.ctx_shadow;
            if tag != 0 && shadow.is_empty() {
                shadow.resize(len, 0);
            }
            if !shadow.is_empty() {
                shadow[i..i + size].fill(tag);
            }
        }
    }

    fn stack_cells(&mut self) -> &mut StackCells {
        self.stack
            .as_mut()
            .expect("the stack lives until the run ends")
    }

    /// The stack value of `i..i + size` with unwritten bytes as zero.
    #[cold]
    fn partly_written_value(&mut self, i: usize, size: usize) -> u64 {
        let written = self.stack_written.clone();
        let stack = &self.stack_cells().bytes[..];
        (0..size).rev().fold(0u64, |acc, k| {
            let b = i + k;
            let byte = if written.has(b) { stack[b] } else { 0 };
            (acc << 8) | byte as u64
        })
    }

    /// The union of the tags of the written, marked stack bytes of
    /// `i..i + size` (0 when none is marked).
    fn stack_tag(&self, i: usize, size: usize) -> Tag {
        let Some(cells) = self.stack.as_ref() else {
            return 0;
        };
        (i..i + size)
            .filter(|&b| self.stack_marked.has(b) && self.stack_written.has(b))
            .fold(0, |t, b| t | cells.tags[b])
    }

    // The fast paths avoid closures and combinators: in builds with debug
    // assertions an outlined closure would take its environment's address,
    // and the interpreter's handlers could no longer tail-call.

    /// The number in stack bytes `i..i + size` (whose bits are `at`) when
    /// they are all written and none is marked.
    #[inline(always)]
    fn plain_stack_value(&self, i: usize, at: WordMask, size: usize) -> Option<u64> {
        if self.stack_written.all_in(at) && self.stack_marked.none_in(at) {
            if let Some(stack) = self.stack.as_ref() {
                return Some(read_le(&stack.bytes[..], i, size));
            }
        }
        None
    }

    /// Stores a number into stack bytes `i..i + size` (whose bits are `at`):
    /// written, not marked.
    #[inline(always)]
    fn store_stack_number(&mut self, i: usize, at: WordMask, size: usize, value: u64) -> bool {
        let Some(stack) = self.stack.as_mut() else {
            return false;
        };
        write_le(&mut stack.bytes[..], i, size, value);
        self.stack_written.put(at, true);
        self.stack_marked.put(at, false);
        true
    }

    /// The fast path of [`Memory::load`] through a base of tag `regions`:
    /// the value of `size` bytes at `addr` when they are written stack bytes
    /// without pointer marks (and within one bitmap word), or input bytes of
    /// an input without marks; `None` otherwise (the caller then takes
    /// [`Memory::load`], which handles every case).
    #[inline(always)]
    pub fn load_fast(&self, addr: u64, size: usize, regions: Tag) -> Option<u64> {
        if regions & STACK != 0 {
            if let Some(i) = self.stack_index(addr, size) {
                return self.plain_stack_value(i, WordMask::of(i, size)?, size);
            }
        }
        if regions & INPUT == 0 {
            return None;
        }
        let i = self.input_index(addr, size)?;
        if self.input_shadow.is_empty() {
            Some(read_le(self.input, i, size))
        } else {
            None
        }
    }

    /// The stack index of `off` bytes from the top of the current frame.
    #[inline(always)]
    fn frame_index(&self, off: i32) -> usize {
        (self.stack_low - STACK_BASE + STACK_SIZE as u64).wrapping_add(off as i64 as u64) as usize
    }

    /// [`Memory::load_fast`] at `off` bytes from the current frame's top,
    /// where the caller knows that `off..off + size` lies inside the frame
    /// and within one bitmap word.
    #[inline(always)]
    pub fn frame_load_fast(&self, off: i32, size: usize) -> Option<u64> {
        let i = self.frame_index(off);
        self.plain_stack_value(i, WordMask::within_word(i, size), size)
    }

    /// [`Memory::store_fast`] at `off` bytes from the current frame's top,
    /// under the conditions of [`Memory::frame_load_fast`].
    #[inline(always)]
    pub fn frame_store_fast(&mut self, off: i32, size: usize, value: u64) -> bool {
        let i = self.frame_index(off);
        self.store_stack_number(i, WordMask::within_word(i, size), size, value)
    }

    /// Loads `size` bytes (1, 2, 4 or 8) little-endian, zero-extended,
    /// through a base of tag `regions` (the access faults, `None`, unless it
    /// lies in one of them). Returns the value and the union of the tags of
    /// its bytes (0: a number). Stack bytes never written read as zero, and
    /// the first such read is remembered with the reading `pc`. Always
    /// inlined: its result (no niche in a tag) would otherwise come back
    /// through a stack slot, and the handlers calling it could no longer
    /// tail-call (`exec`'s `threaded_code_runs_in_constant_stack`).
    #[inline(always)]
    pub fn load(&mut self, addr: u64, size: usize, pc: usize, regions: Tag) -> Option<(u64, Tag)> {
        match self.resolve(addr, size, regions)? {
            Place::Stack(i) => {
                let tag = self.stack_tag(i, size);
                if !self.stack_written.all_in_range(i, size) {
                    self.uninit_read_pc.get_or_insert(pc);
                    return Some((self.partly_written_value(i, size), tag));
                }
                Some((read_le(&self.stack_cells().bytes[..], i, size), tag))
            }
            Place::Input(i) => {
                let tag = Self::shadow_tag(&self.input_shadow, i, size);
                Some((read_le(self.input, i, size), tag))
            }
            Place::Ctx(i) => Some(self.ctx_load(i, size)),
            Place::Map(rel) => Some(self.map_load(rel, size)),
        }
    }

    /// The fast path of [`Memory::store`] through a base of tag `regions`:
    /// stores a number (not pointer-derived) into stack bytes within one
    /// bitmap word, or into an input without marks. Returns false (having
    /// done nothing) otherwise.
    #[inline(always)]
    pub fn store_fast(&mut self, addr: u64, size: usize, value: u64, regions: Tag) -> bool {
        if regions & STACK != 0 {
            if let Some(i) = self.stack_index(addr, size) {
                return match WordMask::of(i, size) {
                    Some(at) => self.store_stack_number(i, at, size, value),
                    None => false,
                };
            }
        }
        if regions & INPUT == 0 {
            return false;
        }
        match self.input_index(addr, size) {
            Some(i) if self.input_shadow.is_empty() => {
                write_le(self.input, i, size, value);
                true
            }
            _ => false,
        }
    }

    /// Stores the low `size` bytes of `value` little-endian through a base
    /// of tag `regions` (`None` unless the access lies in one of them); the
    /// bytes take the value's tag `tag` (0: a number).
    pub fn store(
        &mut self,
        addr: u64,
        size: usize,
        value: u64,
        tag: Tag,
        regions: Tag,
    ) -> Option<()> {
        match self.resolve(addr, size, regions)? {
            Place::Stack(i) => {
                let cells = self.stack_cells();
                write_le(&mut cells.bytes[..], i, size, value);
                cells.tags[i..i + size].fill(tag);
                self.stack_written.put_range(i, size, true);
                self.stack_marked.put_range(i, size, tag != 0);
            }
            Place::Input(i) => {
                write_le(self.input, i, size, value);
                let shadow = &mut self.input_shadow;
                if tag != 0 && shadow.is_empty() {
                    shadow.resize(self.input.len(), 0);
                }
                if !shadow.is_empty() {
                    shadow[i..i + size].fill(tag);
                }
            }
            Place::Ctx(i) => self.ctx_store(i, size, value, tag),
            Place::Map(rel) => self.map_store(rel, size, value, tag),
        }
        Some(())
    }

    /// A legacy packet load (`LD_ABS`/`LD_IND`) of `size` bytes at
    /// `offset`, big-endian; `None` when the kernel's load helper fails.
    /// A non-negative offset counts from `input`'s start. For a packet
    /// type, a negative one is `bpf_internal_load_pointer_neg_helper`'s
    /// (net/core/filter.c): from `SKF_NET_OFF` on relative to the network
    /// header (`ETH_HLEN` after the mac header in a `BPF_PROG_TEST_RUN`),
    /// from `SKF_LL_OFF` relative to the mac header (a socket filter's is
    /// `link_head`, before `input`); the bytes must lie in the packet.
    /// Other negative offsets, and every negative one in the input model,
    /// fail.
    pub fn load_packet_be(&self, offset: i64, size: usize) -> Option<(u64, Tag)> {
        if offset < 0 {
            return self.load_packet_negative(offset, size);
        }
        let lo = self.window_lo as usize;
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(size)?;
        let bytes = self.input[lo..self.window_hi as usize].get(start..end)?;
        let value = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64);
        Some((
            value,
            Self::shadow_tag(&self.input_shadow, lo + start, size),
        ))
    }

    /// [`Memory::load_packet_be`] at a negative offset (kept out of line:
    /// the packet-load handlers must stay small enough to end in a jump).
    #[inline(never)]
    fn load_packet_negative(&self, offset: i64, size: usize) -> Option<(u64, Tag)> {
        // XDP has no skb headers (and no `LD_ABS`: the kernel refuses it).
        if self.xdp_frame {
            return None;
        }
        let head = self.link_head?;
        let mac = -(head.len() as i64);
        let start = if offset >= SKF_NET_OFF {
            mac + ETH_HLEN + (offset - SKF_NET_OFF)
        } else if offset >= SKF_LL_OFF {
            mac + (offset - SKF_LL_OFF)
        } else {
            return None;
        };
        // In `head ++ input` coordinates.
        let first = usize::try_from(head.len() as i64 + start).ok()?;
        let end = first.checked_add(size)?;
        if end > head.len() + self.input.len() {
            return None;
        }
        let byte = |j: usize| {
            if j < head.len() {
                head[j]
            } else {
                self.input[j - head.len()]
            }
        };
        let value = (first..end).fold(0u64, |acc, j| (acc << 8) | byte(j) as u64);
        let tag = if end > head.len() {
            let from = first.max(head.len()) - head.len();
            Self::shadow_tag(&self.input_shadow, from, end - head.len() - from)
        } else {
            0
        };
        Some((value, tag))
    }

    /// The first instruction that read never-written stack, if any.
    pub fn uninit_read_pc(&self) -> Option<usize> {
        self.uninit_read_pc
    }

    /// The per-byte pointer-derived marks of the input memory (empty when
    /// no byte is marked).
    pub fn take_input_shadow(&mut self) -> Vec<bool> {
        let shadow = std::mem::take(&mut self.input_shadow);
        if shadow.iter().any(|&t| t != 0) {
            shadow.into_iter().map(|t| t != 0).collect()
        } else {
            Vec::new()
        }
    }
}

impl Drop for Memory<'_> {
    fn drop(&mut self) {
        if let Some(stack) = self.stack.take() {
            SPARE_STACK.with(|s| *s.borrow_mut() = Some(stack));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Tag = INPUT | STACK | CTX;

    #[test]
    fn input_bounds_are_exact() {
        let mut buf = [1u8, 2, 3, 4];
        let mut m = Memory::new(&mut buf);
        assert_eq!(m.load(MEM_BASE, 4, 0, ANY), Some((0x0403_0201, 0)));
        assert_eq!(m.load(MEM_BASE + 1, 4, 0, ANY), None);
        assert_eq!(m.load(MEM_BASE - 1, 1, 0, ANY), None);
        assert_eq!(m.load(MEM_BASE.wrapping_add(u64::MAX), 8, 0, ANY), None);
    }

    #[test]
    fn only_live_frames_are_addressable() {
        let mut buf = [];
        let mut m = Memory::new(&mut buf);
        assert!(m.store(STACK_TOP - 8, 8, 7, 0, ANY).is_some());
        assert!(m.store(STACK_TOP - 513, 1, 7, 0, ANY).is_none());
        assert!(m.load(STACK_TOP, 1, 0, ANY).is_none());
        m.enter_frame(1);
        assert!(m.store(STACK_TOP - 513, 1, 7, 0, ANY).is_some());
        m.set_depth(0);
        m.enter_frame(1);
        assert_eq!(
            m.load(STACK_TOP - 513, 1, 9, ANY),
            Some((0, 0)),
            "a new frame starts zeroed"
        );
        assert_eq!(m.uninit_read_pc(), Some(9), "and unwritten");
        assert!(m.store(STACK_TOP - 1025, 1, 7, 0, ANY).is_none());
    }

    #[test]
    fn unwritten_stack_bytes_read_as_zero_even_when_reused() {
        {
            let mut buf = [];
            let mut m = Memory::new(&mut buf);
            m.store(STACK_TOP - 8, 8, u64::MAX, 0, ANY).unwrap();
        }
        // The buffer is reused; its old bytes must not show.
        let mut buf = [];
        let mut m = Memory::new(&mut buf);
        m.store(STACK_TOP - 6, 1, 0xab, 0, ANY).unwrap();
        assert_eq!(m.load(STACK_TOP - 8, 8, 3, ANY), Some((0xab_0000, 0)));
        assert_eq!(m.uninit_read_pc(), Some(3));
        // A word straddling two bitmap words.
        let mut buf = [];
        let mut m = Memory::new(&mut buf);
        let addr = STACK_TOP - 68;
        m.store(addr, 8, 0x1122_3344_5566_7788, 0, ANY).unwrap();
        assert_eq!(m.load(addr, 8, 0, ANY), Some((0x1122_3344_5566_7788, 0)));
        assert_eq!(m.uninit_read_pc(), None);
    }

    #[test]
    fn derived_marks_follow_stores() {
        let mut buf = [0u8; 16];
        let mut m = Memory::new(&mut buf);
        m.store(MEM_BASE, 8, 1, STACK, ANY).unwrap();
        assert_eq!(m.load(MEM_BASE + 4, 4, 0, ANY), Some((0, STACK)));
        m.store(MEM_BASE, 8, 1, 0, ANY).unwrap();
        assert_eq!(m.load(MEM_BASE, 8, 0, ANY), Some((1, 0)));
        assert!(m.take_input_shadow().is_empty());
    }

    #[test]
    fn stack_marks_follow_stores_and_frames() {
        let mut buf = [];
        let mut m = Memory::new(&mut buf);
        let slot = STACK_TOP - 16;
        m.store(slot, 8, 1, STACK, ANY).unwrap();
        assert_eq!(
            m.load_fast(slot, 8, ANY),
            None,
            "marked bytes take the general path"
        );
        assert_eq!(m.load(slot + 4, 4, 0, ANY), Some((0, STACK)));
        // A number over half of the pointer: the other half stays marked.
        assert!(m.store_fast(slot, 4, 2, ANY));
        assert_eq!(m.load(slot, 4, 0, ANY), Some((2, 0)));
        assert_eq!(m.load(slot, 8, 0, ANY), Some((2, STACK)));
        // A new frame over bytes marked in an earlier one shows no marks.
        m.enter_frame(1);
        let callee = STACK_TOP - STACK_SIZE as u64 - 8;
        m.store(callee, 8, 5, STACK, ANY).unwrap();
        m.set_depth(0);
        m.enter_frame(1);
        assert_eq!(m.load(callee, 8, 4, ANY), Some((0, 0)));
        m.store(callee, 2, 7, 0, ANY).unwrap();
        assert_eq!(m.load_fast(callee, 2, ANY), Some(7));
    }

    #[test]
    fn packet_loads_are_big_endian() {
        let mut buf = [0x12u8, 0x34, 0x56, 0x78];
        let m = Memory::new(&mut buf);
        assert_eq!(m.load_packet_be(0, 2), Some((0x1234, 0)));
        assert_eq!(m.load_packet_be(0, 4), Some((0x1234_5678, 0)));
        assert_eq!(m.load_packet_be(3, 2), None);
        assert_eq!(m.load_packet_be(-1, 1), None);
    }

    #[test]
    fn packet_loads_carry_the_marks_of_the_bytes_they_read() {
        // Issue 9: a pointer stored into the input is read back by a legacy
        // packet load; the value is pointer-derived like an ldx of it.
        let mut buf = [0u8; 12];
        let mut m = Memory::new(&mut buf);
        m.store(MEM_BASE + 2, 8, MEM_BASE, INPUT, ANY).unwrap();
        assert_eq!(m.load_packet_be(0, 2), Some((0x0000, 0)));
        assert_eq!(m.load_packet_be(1, 2), Some((0x0000, INPUT)));
        assert_eq!(m.load_packet_be(9, 1), Some((0x00, INPUT)));
        assert_eq!(m.load_packet_be(10, 2), Some((0x0000, 0)));
    }
}
