//! Transfer functions over scalar states: how an instruction maps the
//! abstract inputs to abstract outputs, as the 6.18 kernel computes them.
//!
//! - [`alu`]: `adjust_scalar_min_max_vals` and the MOV/MOVSX/END/NEG paths
//!   of `check_alu_op`.
//! - [`jmp`]: `is_branch_taken` and `reg_set_min_max`.
//! - [`mem`]: `check_mem_access` (stack and map-value regions).
//! - [`ptr`]: `adjust_ptr_min_max_vals` and pointer comparisons.
//! - [`call`]: helper and local calls, frame exit.

pub mod alu;
pub mod call;
pub mod helper_args;
pub mod jmp;
pub mod ld_abs;
pub mod mem;
pub mod pkt;
pub mod ptr;
