//! Transfer functions over scalar states: how an instruction maps the
//! abstract inputs to abstract outputs, as the 6.18 kernel computes them.
//!
//! - [`alu`]: `adjust_scalar_min_max_vals` and the MOV/MOVSX/END/NEG paths
//!   of `check_alu_op`.
//! - [`jmp`]: `is_branch_taken` and `reg_set_min_max`.

pub mod alu;
pub mod jmp;
