//! `bpfdiff asm FILE -o OUT`: assemble to raw bytecode.

use super::SyntaxArg;
use anyhow::anyhow;
use bpfdiff::input::{read_program, InputFormat};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `bpfdiff asm`.
#[derive(Debug, Args)]
pub struct AsmArgs {
    /// The assembly source (`.s`/`.asm`/`.txt`: kernel syntax; `.casm`:
    /// bpf_conformance dialect; `.data`: the test's program).
    pub file: PathBuf,
    /// Where to write the bytecode (8 little-endian bytes per slot).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// The source syntax, when the extension does not say it.
    #[arg(long, value_enum)]
    pub syntax: Option<SyntaxArg>,
}

/// Assembles `file` and writes the bytecode to `output`.
pub fn execute(args: &AsmArgs) -> anyhow::Result<ExitCode> {
    let format = source_format(&args.file, args.syntax)?;
    let input = read_program(&args.file, Some(format))?;
    std::fs::write(&args.output, input.program.to_bytes())
        .map_err(|e| anyhow!("{}: cannot write: {e}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// The source format: `--syntax`, else the extension (raw bytecode refused).
fn source_format(file: &Path, syntax: Option<SyntaxArg>) -> anyhow::Result<InputFormat> {
    if let Some(s) = syntax {
        return Ok(s.into());
    }
    match InputFormat::from_path(file) {
        Some(InputFormat::Raw) => Err(anyhow!(
            "{}: this is raw bytecode already (use --syntax to read it as assembly)",
            file.display()
        )),
        Some(format) => Ok(format),
        None => Err(anyhow!(
            "{}: cannot tell the syntax from the file name; use --syntax kernel|conformance \
             (extensions: .s/.asm/.txt, .casm)",
            file.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_follows_the_flag_then_the_extension() {
        let p = Path::new;
        assert_eq!(
            source_format(p("a.bin"), Some(SyntaxArg::Kernel)).unwrap(),
            InputFormat::KernelAsm
        );
        assert_eq!(
            source_format(p("a.casm"), None).unwrap(),
            InputFormat::ConformanceAsm
        );
        assert_eq!(
            source_format(p("a.s"), None).unwrap(),
            InputFormat::KernelAsm
        );
        assert_eq!(source_format(p("a.data"), None).unwrap(), InputFormat::Data);
        let e = source_format(p("a.bin"), None).unwrap_err();
        assert!(
            e.to_string().starts_with("a.bin: this is raw bytecode"),
            "{e}"
        );
        let e = source_format(p("a.o"), None).unwrap_err();
        assert!(e.to_string().contains("--syntax"), "{e}");
    }
}
