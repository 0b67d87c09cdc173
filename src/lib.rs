//! bpfdiff harness library.
#![deny(missing_docs)]
