#!/bin/sh
# Fetches the kernel matrix (docs/kernel-matrix.md) into a cache outside the
# repository and builds each kernel's initramfs. Safe to run again: what is
# already there is kept.
#
#   scripts/kernels.sh                  # newest 6.1 and 6.12 that Debian offers
#   scripts/kernels.sh 6.12             # only that series
#   BPFDIFF_KERNELS=/tmp/k scripts/kernels.sh
#
# Layout, per series (the name after `kernel@`):
#   $BPFDIFF_KERNELS/<series>/vmlinuz         the kernel
#   $BPFDIFF_KERNELS/<series>/vmlinux         the same, uncompressed (an ELF
#                                             that qemu boots through PVH:
#                                             no decompression under TCG)
#   $BPFDIFF_KERNELS/<series>/modules/        its modules (lib/modules/<release>)
#   $BPFDIFF_KERNELS/<series>/initramfs.cpio  busybox + /init (newc, uncompressed)
#   $BPFDIFF_KERNELS/<series>/package         the Debian package it came from
#
# The agent (bpfdiff's guest side) is not baked in: the guest backend appends
# the agent of the running build, with the shared libraries `ldd` names, as
# a second cpio archive at every boot, so guest and host always speak the
# same protocol. The serial transport needs no module (8250 is built in).
# Needs root (apt-get); installs qemu-system-x86, busybox-static and cpio.
set -eu

CACHE=${BPFDIFF_KERNELS:-/var/cache/bpfdiff/kernels}
SERIES=${*:-6.1 6.12}

die() { echo "kernels.sh: $*" >&2; exit 2; }

need_pkgs=""
command -v qemu-system-x86_64 >/dev/null || need_pkgs="$need_pkgs qemu-system-x86"
[ -x /bin/busybox ] || need_pkgs="$need_pkgs busybox-static"
command -v cpio >/dev/null || need_pkgs="$need_pkgs cpio"
apt-get update -qq || die "apt-get update failed"
if [ -n "$need_pkgs" ]; then
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_pkgs >/dev/null \
        || die "cannot install$need_pkgs"
fi
file /bin/busybox 2>/dev/null | grep -q 'statically linked' \
    || ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' \
    || die "/bin/busybox is not statically linked (install busybox-static)"

# The newest package of a series: 6.1 -> linux-image-6.1.0-NN-amd64,
# 6.12 -> linux-image-6.12.NNN+deb12-amd64, others -> linux-image-<s>.*-amd64.
newest() {
    case "$1" in
    6.1) re='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    *) re="^linux-image-$(echo "$1" | sed 's/\./\\./g')\\.[0-9]+(\\+deb[0-9]+)?-amd64\$" ;;
    esac
    apt-cache pkgnames linux-image- | grep -E "$re" | sort -V | tail -n 1
}

build_initramfs() {
    dir=$1
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/agent"
    cp /bin/busybox "$root/bin/busybox"
    cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo "bpfdiff guest: $(uname -r) up"
if [ -x /agent/bpfdiff-agent ]; then
    exec /agent/bpfdiff-agent
fi
echo "bpfdiff guest: no agent in the initramfs (/agent/bpfdiff-agent)"
poweroff -f
EOF
    chmod 755 "$root/init"
    (cd "$root" && find . | sort | cpio -o -H newc --quiet) >"$dir/initramfs.cpio.tmp"
    mv "$dir/initramfs.cpio.tmp" "$dir/initramfs.cpio"
    rm -rf "$root"
}

# The ELF inside a bzImage: the first zstd, xz or gzip stream that
# decompresses to one. Empty when there is none (the guest then boots vmlinuz).
extract_vmlinux() {
    for kind in '\x28\xb5\x2f\xfd:zstd' '\xfd7zXZ\x00:xz' '\x1f\x8b\x08:gzip'; do
        magic=${kind%%:*}
        tool=${kind##*:}
        command -v "$tool" >/dev/null || continue
        for off in $(LC_ALL=C grep -obUaP "$magic" "$1" | cut -d: -f1); do
            tail -c +$((off + 1)) "$1" | "$tool" -dqc 2>/dev/null >"$2.tmp" || true
            if [ "$(head -c 4 "$2.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
                mv "$2.tmp" "$2"
                return 0
            fi
        done
    done
    rm -f "$2.tmp"
}

mkdir -p "$CACHE"
for s in $SERIES; do
    pkg=$(newest "$s")
    [ -n "$pkg" ] || die "no Debian package for kernel series $s"
    dir="$CACHE/$s"
    if [ -f "$dir/package" ] && [ "$(cat "$dir/package")" = "$pkg" ] && [ -f "$dir/vmlinuz" ]; then
        echo "kernel@$s: $pkg (cached)"
    else
        echo "kernel@$s: fetching $pkg"
        work=$(mktemp -d)
        chmod 755 "$work" # apt-get download runs as _apt
        (cd "$work" && apt-get download -qq "$pkg") || die "apt-get download $pkg failed"
        rm -rf "$dir.new"
        mkdir -p "$dir.new"
        dpkg -x "$work"/*.deb "$work/x"
        cp "$work"/x/boot/vmlinuz-* "$dir.new/vmlinuz"
        mkdir -p "$dir.new/modules"
        if [ -d "$work/x/lib/modules" ]; then
            cp -a "$work"/x/lib/modules/. "$dir.new/modules/"
        fi
        cp "$work"/x/boot/config-* "$dir.new/config" 2>/dev/null || true
        echo "$pkg" >"$dir.new/package"
        rm -rf "$work" "$dir"
        mv "$dir.new" "$dir"
    fi
    if [ ! -f "$dir/vmlinux" ]; then
        extract_vmlinux "$dir/vmlinuz" "$dir/vmlinux"
        [ -f "$dir/vmlinux" ] && echo "kernel@$s: vmlinux extracted" \
            || echo "kernel@$s: no vmlinux inside vmlinuz; the guest boots vmlinuz"
    fi
    if [ ! -f "$dir/initramfs.cpio" ] || [ "$0" -nt "$dir/initramfs.cpio" ]; then
        build_initramfs "$dir"
        echo "kernel@$s: initramfs built"
    fi
done
echo "kernels in $CACHE: $SERIES"
