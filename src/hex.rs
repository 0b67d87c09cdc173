//! Hex text for input memory: the engine's one reader, re-exported (see
//! [`bpfdiff_engine::hex`]), so that `--mem`, `--mem-file`, `.data` files and
//! the plugin protocol accept the same syntax.

pub use bpfdiff_engine::hex::{parse_hex_bytes, to_hex, HexError, HexErrorKind};
