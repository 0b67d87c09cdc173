//! `bpfdiff-plugin [MEMORY] [--backend NAME]`: the bpf_conformance plugin,
//! as a binary whose first argument may be the memory (the upstream runner
//! passes `plugin_path MEMORY PLUGIN_OPTIONS...`). Same as `bpfdiff plugin`.

use bpfdiff::plugin::serve_request;
use bpfdiff_oracle::registry;
use std::io::{Read, Write};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: bpfdiff-plugin [MEMORY_HEX] [--backend interp|rbpf|rbpf-jit|kernel] < PROGRAM_HEX"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    if let Some(code) = bpfdiff::worker_hook::serve_if_asked() {
        return code;
    }
    let mut memory = None;
    let mut program_arg = None;
    let mut backend = "interp".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            // The runner splits --plugin_options on single spaces: a double
            // or leading space gives an empty argument.
            "" => {}
            "--program" => match args.next() {
                Some(p) => program_arg = Some(p),
                None => return usage(),
            },
            "--backend" => match args.next() {
                Some(b) => backend = b,
                None => return usage(),
            },
            "--debug" => {}
            "--elf" => {
                eprintln!("bpfdiff-plugin: ELF input is not supported; send raw instructions");
                return ExitCode::from(2);
            }
            s if s.starts_with("--") => return usage(),
            _ if memory.is_none() => memory = Some(a),
            _ => return usage(),
        }
    }
    let mut backend = match registry::create(&backend) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bpfdiff-plugin: {e}");
            return ExitCode::from(2);
        }
    };
    let program = match program_arg {
        Some(p) => p,
        None => {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("bpfdiff-plugin: cannot read the program from standard input: {e}");
                return ExitCode::from(2);
            }
            text
        }
    };
    match serve_request(backend.as_mut(), &program, memory.as_deref()) {
        Ok(r0) => {
            let _ = writeln!(std::io::stdout(), "{r0:x}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            ExitCode::from(1)
        }
    }
}
