#!/usr/bin/env bash
# Measures the firmware: flash and RAM by section, the core's share of the
# code, and (after the QEMU end-to-end scenario) how deep the stack went.
# Run from anywhere; needs the llvm-tools rustup component, qemu-system-arm
# and python3. Figures go to stdout; FIRMWARE.md quotes them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/target}"
elf="$target/thumbv7m-none-eabi/release/shout-firmware"
bin="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin"
# Without the llvm-tools component, the system's LLVM tools will do.
[ -x "$bin/llvm-size" ] || bin="$(dirname "$(command -v llvm-size)")"

(cd "$here" && cargo build --release --quiet)
echo "== llvm-size (Berkeley: text includes the vector table and rodata)"
"$bin/llvm-size" "$elf"
echo "== sections"
"$bin/llvm-size" -A "$elf" | grep -E '^\.(vector_table|text|rodata|data|bss|uninit) '
echo "== code and read-only data by crate (llvm-nm symbol sizes, .text + .rodata)"
"$bin/llvm-nm" --print-size --size-sort --demangle "$elf" | python3 -c '
import re, sys
sums, total = {}, 0
for line in sys.stdin:
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 4 or parts[2] not in "tTrR":
        continue
    size, name = int(parts[1], 16), parts[3]
    if "shout_core::" in name: crate = "shout_core"
    elif "shout_embedded_io::" in name: crate = "shout_embedded_io"
    elif "shout_firmware::" in name or name in ("main", "SysTick", "DefaultHandler", "HardFault", "_HardFault", "Reset"):
        crate = "firmware (main loop, PL011 driver, handlers)"
    elif name in ("__INTERRUPTS", "__EXCEPTIONS", "__RESET_VECTOR"): crate = "vector table"
    elif name.startswith(("__aeabi", "compiler_builtins")): crate = "compiler_builtins (memcpy, memmove, memclr)"
    elif name.startswith(("core::", "<core::")): crate = "core library (panic paths)"
    else: crate = "other (anonymous constants, ...)"
    sums[crate] = sums.get(crate, 0) + size
    total += size
for crate, size in sorted(sums.items(), key=lambda kv: -kv[1]):
    print(f"{size:7d}  {crate}")
print(f"{total:7d}  total")
'
echo "== .text by source file of each instruction (DWARF line info; inlined code counts where it was written)"
"$bin/llvm-objdump" -d -l --section=.text "$elf" | python3 -c '
import re, sys
sums, total, where = {}, 0, "unknown"
insn = re.compile(r"^\s+[0-9a-f]+:\s+((?:[0-9a-f]{2,8} )+)\s")
for line in sys.stdin:
    if line.startswith("; /"):
        path = line[2:].rsplit(":", 1)[0]
        if "/core/src/" in path and "/library/" not in path and "registry" not in path: where = "shout-core (core/src)"
        elif "/adapters/embedded-io/src/" in path: where = "shout-embedded-io (adapters/embedded-io/src)"
        elif "/firmware/src/" in path: where = "firmware (main.rs, pl011.rs)"
        elif "/library/core/" in path: where = "Rust core library, inlined (slices, ptr, iterators, Option...)"
        elif "compiler_builtins" in path or "compiler-builtins" in path: where = "compiler_builtins (memcpy, memmove, memset)"
        elif "/memchr-" in path or "/heapless-" in path: where = "shout-core dependencies (memchr, heapless)"
        elif "cortex-m" in path: where = "cortex-m, cortex-m-rt, semihosting"
        else: where = "other: " + "/".join(path.split("/")[-3:])
        continue
    m = insn.match(line)
    if m:
        n = len(m.group(1).replace(" ", "")) // 2
        sums[where] = sums.get(where, 0) + n
        total += n
for k, v in sorted(sums.items(), key=lambda kv: -kv[1]):
    print(f"{v:7d}  {k}")
print(f"{total:7d}  total .text")
'
dump="$(mktemp /tmp/shout-ram.XXXXXX)"
echo "== stack high-water mark after the QEMU end-to-end scenario"
root="$(cd "$here/../../.." && pwd)"
(cd "$root" && CARGO_TARGET_DIR="${HOST_CARGO_TARGET_DIR:-$root/target}" SHOUT_FIRMWARE_ELF="$elf" SHOUT_QEMU_RAM_DUMP="$dump" \
  cargo test --quiet -p shout-embedded-io --test qemu -- --ignored --exact firmware_serves_shout_on_uart0 --nocapture \
  >"${QEMU_LOG:-/dev/null}" 2>&1)
sheap=$("$bin/llvm-nm" "$elf" | awk '$3 == "__sheap" { print $1 }')
python3 - "$dump" "$sheap" <<'PY'
import sys
ram = open(sys.argv[1], "rb").read()
base, sheap = 0x20000000, int(sys.argv[2], 16)
paint = bytes.fromhex("5a5a5a5a")
i = sheap - base
while i + 4 <= len(ram) and ram[i:i+4] == paint:
    i += 4
used = len(ram) - i
print(f"statics end at {sheap:#x}; stack used at most {used} bytes (from {base + i:#x} up to the top of RAM)")
PY
rm -f "$dump"
