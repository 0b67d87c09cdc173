//! From source lines to statements: what surrounds the instructions in the
//! texts the kernel-syntax assembler reads.
//!
//! - C string literals, as BPF selftests write inline assembly
//!   (`"r0 = 0;"`, `"r0 = 0;\n"`, several on a line): a line that starts
//!   with `"` is read as a sequence of literals, their escapes decoded;
//!   after them only a trailing `\`, a `//` or a `/* */` comment may follow.
//!   A `\n` inside the literals ends a statement.
//! - A trailing `\` (a line of a one-string inline-asm body) is dropped.
//! - `/* ... */` comments, across lines too, and `//` comments.
//! - `;` separates statements, as in the LLVM BPF assembler; text after a
//!   `;` that does not start like an instruction is a comment (the
//!   verifier log prints `; R0_w=0` after an instruction), and a line that
//!   starts with `;` is a comment (bpftool's source lines).
//! - Labels before a statement: `name:`, `l0_%=:` and GNU local labels
//!   (`1:`), which is also how bpftool's index prefix (`12: `) reads.
//! - `%%`, an inline-asm template's escape for one `%` (`w2 %%= w1`,
//!   `r1 s%%= r2`), reads as `%`.

use crate::asm::AsmErrorKind;

/// One statement's text as found on a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Segment {
    /// The text, without comments or surrounding blanks.
    pub text: String,
    /// True when it came after a `;` on its line (it may be a comment).
    pub trailing: bool,
}

/// Splits lines into statements, remembering an open `/* */` comment
/// from one line to the next.
#[derive(Debug, Default)]
pub(super) struct Reader {
    in_block_comment: bool,
}

impl Reader {
    /// The statements of one line (none for a blank or comment line).
    pub(super) fn segments(&mut self, raw: &str) -> Result<Vec<Segment>, AsmErrorKind> {
        let syntax = || AsmErrorKind::Syntax {
            text: raw.trim().to_string(),
        };
        let content = if raw.trim_start().starts_with('"') && !self.in_block_comment {
            let (literal, rest) = unquote(raw.trim_start()).ok_or_else(syntax)?;
            let content = self.strip_comments(&literal);
            let rest = rest.trim_end();
            let rest = rest.strip_suffix('\\').unwrap_or(rest);
            if !self.strip_comments(rest).trim().is_empty() {
                return Err(syntax());
            }
            content
        } else {
            let text = raw.trim_end();
            let text = text.strip_suffix('\\').unwrap_or(text);
            self.strip_comments(text)
        };
        let mut out = Vec::new();
        for sub in content.split('\n') {
            if sub.trim_start().starts_with(';') {
                continue;
            }
            for (i, piece) in sub.split(';').enumerate() {
                let text = piece.trim();
                if !text.is_empty() {
                    out.push(Segment {
                        text: text.replace("%%", "%"),
                        trailing: i > 0,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Removes `/* */` comments (possibly opened on an earlier line) and a
    /// `//` comment.
    fn strip_comments(&mut self, mut text: &str) -> String {
        let mut out = String::new();
        loop {
            if self.in_block_comment {
                match text.find("*/") {
                    Some(end) => {
                        self.in_block_comment = false;
                        text = &text[end + 2..];
                        out.push(' ');
                    }
                    None => return out,
                }
            }
            let block = text.find("/*");
            let line = text.find("//");
            match (block, line) {
                (Some(b), l) if l.is_none_or(|l| b < l) => {
                    out.push_str(&text[..b]);
                    self.in_block_comment = true;
                    text = &text[b + 2..];
                }
                (_, Some(l)) => {
                    out.push_str(&text[..l]);
                    return out;
                }
                _ => {
                    out.push_str(text);
                    return out;
                }
            }
        }
    }
}

/// Reads C string literals from the start of `text`; returns their decoded
/// content and the text after the last one. `None` for an unterminated
/// literal or an escape other than `\n`, `\t`, `\\`, `\"` and `\'`.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(body) = rest.trim_start().strip_prefix('"') {
        let mut chars = body.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i);
                    break;
                }
                '\\' => out.push(match chars.next()?.1 {
                    'n' => '\n',
                    't' => '\t',
                    '\\' => '\\',
                    '"' => '"',
                    '\'' => '\'',
                    _ => return None,
                }),
                c => out.push(c),
            }
        }
        rest = &body[end? + 1..];
    }
    Some((out, rest))
}

/// A label definition or reference, as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum LabelName {
    /// `1:` (GNU local label; `1b` and `1f` refer to it).
    Numeric(u64),
    /// A name holding `%=`, which inline assembly makes unique per asm
    /// statement: it is scoped to the text between two plain labels.
    Scoped(String),
    /// Any other name.
    Plain(String),
}

impl LabelName {
    /// Classifies a label's text.
    pub(super) fn new(text: &str) -> Option<LabelName> {
        if text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse().ok().map(LabelName::Numeric)
        } else if text.contains("%=") {
            Some(LabelName::Scoped(text.to_string()))
        } else {
            Some(LabelName::Plain(text.to_string()))
        }
    }
}

/// The length of the label name at the start of `text`: digits only, or a
/// name of letters, digits, `_`, `.`, `$` and `%=` not starting with a
/// digit. 0 when there is none.
pub(super) fn label_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_digit() => bytes.iter().take_while(|b| b.is_ascii_digit()).count(),
        Some(b) if b.is_ascii_alphabetic() || matches!(b, b'_' | b'.' | b'$') => {
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$') {
                    i += 1;
                } else if b == b'%' && bytes.get(i + 1) == Some(&b'=') {
                    i += 2;
                } else {
                    break;
                }
            }
            i
        }
        _ => 0,
    }
}

/// Splits the `name:` labels off the start of a statement.
pub(super) fn take_labels(mut text: &str) -> (Vec<(String, LabelName)>, &str) {
    let mut labels = Vec::new();
    loop {
        let t = text.trim_start();
        let len = label_len(t);
        if len == 0 || !t[len..].starts_with(':') {
            return (labels, t);
        }
        match LabelName::new(&t[..len]) {
            Some(name) => labels.push((t[..len].to_string(), name)),
            None => return (labels, t),
        }
        text = &t[len + 1..];
    }
}

/// Whether a statement after a `;` starts like an instruction (so that a
/// mistake in it is reported rather than taken for a comment).
pub(super) fn starts_like_instruction(text: &str) -> bool {
    if text.starts_with(['*', '.', '(']) {
        return true;
    }
    let word: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let register = word.len() > 1
        && word.starts_with(['r', 'w'])
        && word[1..].bytes().all(|b| b.is_ascii_digit());
    register
        || matches!(
            word.as_str(),
            "if" | "goto"
                | "gotol"
                | "call"
                | "callx"
                | "exit"
                | "lock"
                | "may_goto"
                | "store_release"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(reader: &mut Reader, line: &str) -> Vec<(String, bool)> {
        reader
            .segments(line)
            .unwrap()
            .into_iter()
            .map(|s| (s.text, s.trailing))
            .collect()
    }

    #[test]
    fn string_literals_backslashes_and_comments() {
        let mut r = Reader::default();
        assert_eq!(texts(&mut r, "\t\"r0 = 0;\"\t"), [("r0 = 0".into(), false)]);
        assert_eq!(
            texts(&mut r, "\"r0 = 0;\\n\\t\" \"exit;\\n\" \\"),
            [("r0 = 0".into(), false), ("exit".into(), false)]
        );
        assert_eq!(
            texts(&mut r, "\"l0_%=: r1 = 1;\" /* note */"),
            [("l0_%=: r1 = 1".into(), false)]
        );
        assert_eq!(
            texts(&mut r, "\tr1 = 0;\t\t\t\\"),
            [("r1 = 0".into(), false)]
        );
        assert_eq!(texts(&mut r, "\t/* a comment\\"), []);
        assert_eq!(texts(&mut r, "\t * r0 = 1 still comment\\"), []);
        assert_eq!(
            texts(&mut r, "\t */ r2 = 2; // r3 = 3"),
            [("r2 = 2".into(), false)]
        );
        assert_eq!(
            texts(&mut r, "r1 = 1; r2 = 2 ; R0_w=0"),
            [
                ("r1 = 1".into(), false),
                ("r2 = 2".into(), true),
                ("R0_w=0".into(), true)
            ]
        );
        assert_eq!(texts(&mut r, "  ; int x = 0; r0 = 1"), []);
        assert_eq!(
            texts(&mut r, "\tw2 %%= w1;\t\\"),
            [("w2 %= w1".into(), false)]
        );
        assert!(r.segments("\"r0 = 0;").is_err());
        assert!(r.segments("\"r0 = 0;\" r1 = 1").is_err());
        assert!(r.segments("\"r0 = \\q\"").is_err());
    }

    #[test]
    fn labels_split_off() {
        let (labels, rest) = take_labels("l0_%=:\tr0 = 0");
        assert_eq!(labels[0].1, LabelName::Scoped("l0_%=".into()));
        assert_eq!(rest, "r0 = 0");
        let (labels, rest) = take_labels("12: (07) r1 += 8");
        assert_eq!(labels[0].1, LabelName::Numeric(12));
        assert_eq!(rest, "(07) r1 += 8");
        let (labels, rest) = take_labels("a: b:");
        assert_eq!(labels.len(), 2);
        assert_eq!(rest, "");
        let (labels, rest) = take_labels("r1 = map[fd:3]");
        assert!(labels.is_empty());
        assert_eq!(rest, "r1 = map[fd:3]");
    }
}
