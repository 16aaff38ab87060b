"""The CPU a benchmark ran on, in one line: model, cores and the vector features that decide speed.

int8 and bfloat16 speed depend on the instructions the CPU has: AVX2 alone (int8 through
VPMADDUBSW), AVX-512, VNNI (int8 dot products, as AVX512_VNNI or AVX_VNNI), AVX512_BF16, AMX.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

FEATURES = {
    "AVX2": ("avx2",),
    "AVX-512": ("avx512f",),
    "VNNI": ("avx512_vnni", "avx_vnni"),
    "BF16": ("avx512_bf16", "avx_ne_convert"),
    "AMX": ("amx_tile",),
}


def cpu_model_and_flags() -> tuple[str, set[str]]:
    """The first CPU's model name, with its family and model numbers (a virtual machine often
    names only ``AMD EPYC``: the numbers tell its generations apart, e.g. family 23 model 1 is
    Zen 1), and its feature flags, from ``/proc/cpuinfo`` (``unknown CPU`` and no flags where
    there is none)."""
    fields: dict[str, str] = {}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if not key.strip():
                break  # the first CPU's block ends
            fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name", "unknown CPU")
    if "cpu family" in fields and "model" in fields:
        model += f" (family {fields['cpu family']}, model {fields['model']})"
    return model, set(fields.get("flags", "").split())


def cpu_description() -> str:
    """E.g. ``AMD EPYC (family 23, model 1), 2 cores; AVX2 yes, AVX-512 no, VNNI no, BF16 no,
    AMX no``."""
    model, flags = cpu_model_and_flags()
    if not flags:
        return f"{model}, {os.cpu_count()} cores ({platform.machine()}; features unknown)"
    found = ", ".join(
        f"{name} {'yes' if any(flag in flags for flag in names) else 'no'}"
        for name, names in FEATURES.items()
    )
    return f"{model}, {os.cpu_count()} cores; {found}"


def load_note() -> str:
    """The load average while the benchmark ran (other work on the machine slows every row)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min: {five:.1f}) on {os.cpu_count()} cores"
