#!/usr/bin/env bash
# Rebuilds the committed BPF object(s) next to their C sources (the Maven build does not need clang).
# Needs: clang (14+), libbpf-dev (bpf_helpers.h), linux-libc-dev (linux/bpf.h). The object is packed into
# the node-proxy jar as dev/trellis/proxy/redirect/bpf/trellis_redirect.bpf.o.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
arch_include=/usr/include/$(uname -m)-linux-gnu
for src in *.bpf.c; do
  clang -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I"$arch_include" -c "$src" -o "${src%.c}.o"
  # Keep BTF (libbpf needs it for the maps) but drop DWARF: smaller, and the same bytes on every rebuild.
  llvm-strip -g "${src%.c}.o" 2>/dev/null || true
  echo "built ${src%.c}.o"
done
