#!/usr/bin/env bash
# Installs what bpfdiff needs on a Debian machine: system packages (clang and
# libelf are for the kernel and ELF oracles; chromium is the headless browser
# in which tests/html_page_renders.rs loads the campaign page; python3
# writes scripts/nightly.sh's summary), the stable and nightly Rust
# toolchains, and cargo-fuzz. Safe to run again: each step is skipped when
# its work is already done. Run as root (or with sudo available).
set -euo pipefail

log() { printf 'setup: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root (or sudo) for: $*" >&2
        exit 1
    fi
}

# --- system packages -------------------------------------------------------
packages=(build-essential pkg-config libelf-dev zlib1g-dev clang llvm curl ca-certificates chromium python3)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    log "system packages present"
fi

# --- Rust toolchains -------------------------------------------------------
if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! command -v rustup >/dev/null 2>&1; then
    log "installing rustup (stable toolchain)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
        | sh -s -- -y --profile minimal --default-toolchain stable
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
    log "rustup installed; open a new shell or run: . \"\$HOME/.cargo/env\""
fi

toolchains="$(rustup toolchain list)"
if ! grep -q '^stable' <<<"$toolchains"; then
    log "installing the stable toolchain"
    rustup toolchain install stable --profile minimal
fi
# clippy and rustfmt are used by CI and reviews; adding them twice is a no-op.
rustup component add --toolchain stable clippy rustfmt >/dev/null 2>&1 || true
if ! grep -q '^nightly' <<<"$toolchains"; then
    log "installing the nightly toolchain (for cargo fuzz)"
    rustup toolchain install nightly --profile minimal
fi

# --- cargo-fuzz ------------------------------------------------------------
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
else
    log "cargo-fuzz present"
fi

log "done"
