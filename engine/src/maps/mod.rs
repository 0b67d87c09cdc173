//! Maps with the kernel's semantics (docs/program-types.md, "Maps").
//!
//! - [`def`]: a map's definition (type, key and value size, max entries,
//!   initial contents) and the kernel's checks of it (`map_alloc_check`).
//! - [`store`]: the contents during a run and the map helpers'
//!   semantics (`lookup`, `update` with `BPF_ANY`/`BPF_NOEXIST`/
//!   `BPF_EXIST`, `delete`).
//! - [`text`]: the `-- maps` section of `.data` tests.
//!
//! Programs name map `i` (the i-th definition) with `ld_imm64 src=1
//! imm=i` (a map pointer) and `ld_imm64 src=2 imm=i, next imm=off` (the
//! address of an array map's element 0 plus `off`), as bpf_conformance
//! and `fd_array`-style loaders do; the kernel backend patches `i` to the
//! real map's fd.

pub mod def;
pub mod store;
pub mod text;

pub use def::{MapDef, MapDefError, MapType};
pub use store::{MapSet, MapState};
