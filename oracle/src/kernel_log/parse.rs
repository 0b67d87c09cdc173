//! One register's or stack slot's text in a level-2 log (6.18 format):
//! `R3=scalar(...)`, `R1=map_value(map=bpfdiff_mem,ks=4,vs=8,off=1)`,
//! `R10=fp0`, `fp-8=scalar(id=1)`, `fp-16=????42`, `fp-24=mmmmmmmm`.

use bpfdiff_engine::verifier::scalar::ScalarBounds;
use bpfdiff_engine::verifier::scalar_text::{
    apply_range_attr, parse_num, parse_scalar, split_attrs, ScalarTag,
};

/// A register's (or spilled slot's) abstract value as the kernel printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegState {
    /// A scalar.
    Scalar {
        /// Its value set.
        bounds: ScalarBounds,
        /// Its precision mark and id.
        tag: ScalarTag,
    },
    /// A pointer (or any other non-scalar type).
    Pointer {
        /// The type as printed (`ctx`, `fp`, `map_value`, `pkt`, …).
        kind: String,
        /// The fixed offset (`off=`, or the number of `fp-8`).
        off: i64,
        /// The variable offset's bounds, when it has one.
        var: Option<ScalarBounds>,
        /// The other attributes as printed (`map=bpfdiff_mem`, `ks=4`, …).
        attrs: Vec<String>,
    },
}

/// A stack slot as printed after `fpN=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotState {
    /// The slot-type characters printed before a spilled register (`????`
    /// of `????42`), or the whole 8-character map (`mmmm0000`) when nothing
    /// is spilled there.
    pub types: String,
    /// The spilled register, if any.
    pub spilled: Option<RegState>,
}

/// Parses the text after `R3=` (or the spilled part after `fp-8=`).
pub fn parse_reg(text: &str) -> Result<RegState, String> {
    if text.starts_with("scalar(")
        || text.starts_with("Pscalar(")
        || parse_num(text.trim_start_matches('P')).is_some()
    {
        let (bounds, tag) = parse_scalar(text).map_err(|e| e.to_string())?;
        return Ok(RegState::Scalar { bounds, tag });
    }
    // `fp0`, `fp-8`, `fp[1]-8`: a stack pointer with a constant offset.
    if let Some(rest) = text.strip_prefix("fp") {
        let (frame, rest) = match rest.strip_prefix('[') {
            Some(r) => {
                let (f, r) = r.split_once(']').ok_or("unclosed fp[frame]")?;
                (Some(f.to_string()), r)
            }
            None => (None, rest),
        };
        if let Some(v) = parse_num(rest) {
            return Ok(RegState::Pointer {
                kind: "fp".to_string(),
                off: v as i64,
                var: None,
                attrs: frame
                    .map(|f| vec![format!("frame={f}")])
                    .unwrap_or_default(),
            });
        }
        if !rest.starts_with('(') {
            return Err(format!("unknown stack pointer text `{text}`"));
        }
        return parse_pointer("fp", &rest[1..], text);
    }
    let open = text
        .find('(')
        .ok_or_else(|| format!("unknown register text `{text}`"))?;
    let kind = &text[..open];
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("unknown register text `{text}`"));
    }
    parse_pointer(kind, &text[open + 1..], text)
}

/// Parses `attrs)` of a pointer of type `kind`.
fn parse_pointer(kind: &str, rest: &str, whole: &str) -> Result<RegState, String> {
    let inner = rest
        .strip_suffix(')')
        .ok_or_else(|| format!("unclosed `(` in `{whole}`"))?;
    let mut off = 0i64;
    let mut var = ScalarBounds::unknown();
    let mut has_var = false;
    let mut attrs = Vec::new();
    for a in split_attrs(inner) {
        if let Some(v) = a.strip_prefix("off=") {
            off = parse_num(v).ok_or_else(|| format!("bad off in `{whole}`"))? as i64;
        } else if a.starts_with("var_off=")
            || ["smin", "smax", "umin", "umax"]
                .iter()
                .any(|p| a.starts_with(p))
        {
            if !apply_range_attr(&mut var, a) {
                return Err(format!("bad range `{a}` in `{whole}`"));
            }
            has_var = true;
        } else {
            attrs.push(a.to_string());
        }
    }
    Ok(RegState::Pointer {
        kind: kind.to_string(),
        off,
        var: has_var.then_some(var),
        attrs,
    })
}

/// Parses the text after `fp-8=`: an 8-character slot-type map, or the
/// type characters above a spilled register followed by its state (the
/// register text may itself start with a type character, as `0x…` does).
pub fn parse_slot(text: &str) -> Result<SlotState, String> {
    let is_type = |c: char| "?rm0di".contains(c);
    let prefix = text.chars().take_while(|c| is_type(*c)).count();
    if prefix == text.len() && prefix == 8 {
        return Ok(SlotState {
            types: text.to_string(),
            spilled: None,
        });
    }
    let mut last = None;
    for k in (0..=prefix.min(7)).rev() {
        match parse_reg(&text[k..]) {
            Ok(reg) => {
                return Ok(SlotState {
                    types: text[..k].to_string(),
                    spilled: Some(reg),
                })
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| format!("unknown stack slot `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_keep_kind_offset_and_attributes() {
        let r = parse_reg("map_value(map=bpfdiff_mem,ks=4,vs=4,off=2)").unwrap();
        assert_eq!(
            r,
            RegState::Pointer {
                kind: "map_value".into(),
                off: 2,
                var: None,
                attrs: vec!["map=bpfdiff_mem".into(), "ks=4".into(), "vs=4".into()],
            }
        );
        assert!(matches!(
            parse_reg("fp-8").unwrap(),
            RegState::Pointer { off: -8, .. }
        ));
        assert!(matches!(
            parse_reg("ctx()").unwrap(),
            RegState::Pointer { .. }
        ));
        let v = parse_reg("map_value(map=m,ks=4,vs=4,smin=smin32=0,smax=umax=smax32=umax32=15,var_off=(0x0; 0xf))").unwrap();
        let RegState::Pointer { var: Some(var), .. } = v else {
            panic!("{v:?}")
        };
        assert_eq!(var.umax, 15);
    }

    #[test]
    fn slots_split_types_and_spilled_value() {
        let s = parse_slot("????42").unwrap();
        assert_eq!(s.types, "????");
        assert!(matches!(s.spilled, Some(RegState::Scalar { .. })));
        assert_eq!(parse_slot("mmmmmmmm").unwrap().spilled, None);
        let c = parse_slot("0xfedcba9876543210").unwrap();
        assert_eq!(c.types, "");
        assert!(
            matches!(c.spilled, Some(RegState::Scalar { bounds, .. }) if bounds.umin == 0xfedc_ba98_7654_3210)
        );
        assert_eq!(parse_slot("????0").unwrap().types, "????");
        assert!(parse_slot("mm").is_err());
        assert!(parse_reg("what is this").is_err());
    }
}
