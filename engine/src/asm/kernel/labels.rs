//! Labels: where they are defined, and turning a jump or call to one into
//! a pc-relative offset counted in slots (an `ld_imm64` counts two).
//!
//! - A plain name (`loop:`, `subprog:`) is defined once in the whole text.
//! - A name holding `%=` (`l0_%=:`) is unique per asm statement in C inline
//!   assembly, so here it is scoped: each plain label starts a new scope,
//!   and such a name is defined once per scope.
//! - A number (`1:`) may be defined many times; `1b` is the nearest
//!   definition before the reference, `1f` the nearest after it.

use super::source::LabelName;
use crate::asm::AsmErrorKind;
use std::collections::{HashMap, HashSet};

/// What a jump or call names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// A label by name (plain or `%=`).
    Name(String),
    /// `Nb` (backward) or `Nf` (forward).
    Local {
        /// The label's number.
        number: u64,
        /// True for `Nf`.
        forward: bool,
    },
}

impl Target {
    /// The target as written.
    pub(super) fn text(&self) -> String {
        match self {
            Target::Name(name) => name.clone(),
            Target::Local { number, forward } => {
                format!("{number}{}", if *forward { 'f' } else { 'b' })
            }
        }
    }
}

/// Where a statement sits: its order among label definitions and
/// statements, and its `%=` scope.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place {
    order: usize,
    scope: usize,
}

/// A label defined alone on its line with a number, which is how a
/// truncated bpftool line (`7:`) reads too: it must be referenced.
struct LoneNumber {
    line: usize,
    number: u64,
    order: usize,
}

/// The labels of one text.
#[derive(Default)]
pub(super) struct Labels {
    order: usize,
    scope: usize,
    named: HashMap<(Option<usize>, String), (usize, usize)>,
    numbered: HashMap<u64, Vec<(usize, usize)>>,
    lone: Vec<LoneNumber>,
    used: HashSet<(u64, usize)>,
}

impl Labels {
    /// Defines a label at `slot` (the slot of the next instruction).
    /// `alone`: nothing else is on its line.
    pub(super) fn define(
        &mut self,
        text: &str,
        name: &LabelName,
        slot: usize,
        line: usize,
        alone: bool,
    ) -> Result<(), AsmErrorKind> {
        self.order += 1;
        let key = match name {
            LabelName::Numeric(number) => {
                self.numbered
                    .entry(*number)
                    .or_default()
                    .push((self.order, slot));
                if alone {
                    self.lone.push(LoneNumber {
                        line,
                        number: *number,
                        order: self.order,
                    });
                }
                return Ok(());
            }
            LabelName::Plain(name) => {
                self.scope += 1;
                (None, name.clone())
            }
            LabelName::Scoped(name) => (Some(self.scope), name.clone()),
        };
        if let Some(&(_, first_line)) = self.named.get(&key) {
            return Err(AsmErrorKind::DuplicateLabel {
                label: text.to_string(),
                first_line,
            });
        }
        self.named.insert(key, (slot, line));
        Ok(())
    }

    /// The place of the next statement.
    pub(super) fn place(&mut self) -> Place {
        self.order += 1;
        Place {
            order: self.order,
            scope: self.scope,
        }
    }

    /// The slot a target names from a statement at `place`, if defined.
    pub(super) fn slot(&mut self, target: &Target, place: Place) -> Option<usize> {
        match target {
            Target::Name(name) => {
                let scope = name.contains("%=").then_some(place.scope);
                self.named
                    .get(&(scope, name.clone()))
                    .map(|&(slot, _)| slot)
            }
            Target::Local { number, forward } => {
                let defs = self.numbered.get(number)?;
                let found = if *forward {
                    defs.iter().find(|(order, _)| *order > place.order)
                } else {
                    defs.iter().rev().find(|(order, _)| *order < place.order)
                };
                let &(order, slot) = found?;
                self.used.insert((*number, order));
                Some(slot)
            }
        }
    }

    /// The line of a lone numbered label nothing refers to, if any.
    pub(super) fn unused_lone_number(&self) -> Option<usize> {
        self.lone
            .iter()
            .find(|l| !self.used.contains(&(l.number, l.order)))
            .map(|l| l.line)
    }
}
