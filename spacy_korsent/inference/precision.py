"""Which precisions run fast where: the precision in a backend's name (``torch-bfloat16``).

``float32`` everywhere. ``bfloat16`` on CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX on
x86, BF16 on ARM) and on GPUs from Ampere on; ``float16`` on CUDA GPUs. Where the hardware would
only emulate a precision, more slowly than float32, the backend is refused with a message that
says what to use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import torch

_FAST_CPU_PATH = "backend='onnx-int8' is the fastest CPU path"


def cpu_supports_bfloat16() -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (oneDNN's fast bfloat16 kernels).

    Not ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``: that is also true on AVX-512 CPUs
    without BF16 instructions, where oneDNN emulates bfloat16 more slowly than float32.
    """
    import torch

    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is None:  # older torch: x86 only
        return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
    found = capabilities()
    return any(found.get(name, False) for name in ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16"))


def unsupported(backend: str, dtype: str, device: torch.device) -> Optional[str]:
    """Why ``backend``, which runs ``dtype``, cannot run (fast) on ``device``; None when it can."""
    full_precision = backend.removesuffix(f"-{dtype}")
    if dtype == "float16" and device.type != "cuda":
        return (
            f"backend={backend!r} needs a CUDA device, not {device.type!r}: a CPU only emulates "
            "float16, more slowly than float32. On a CPU with AVX512-BF16 or AMX use "
            f"backend='torch-bfloat16'; elsewhere {_FAST_CPU_PATH}."
        )
    if dtype == "bfloat16" and device.type == "cpu" and not cpu_supports_bfloat16():
        return (
            f"backend={backend!r} needs a CPU with native bfloat16 arithmetic (AVX512-BF16 or "
            "AMX on x86, BF16 on ARM); this one would only emulate it, more slowly than float32. "
            f"Use backend={full_precision!r}; {_FAST_CPU_PATH}."
        )
    if dtype == "bfloat16" and device.type == "cuda":
        import torch

        major, _ = torch.cuda.get_device_capability(device)
        if major < 8:
            name = torch.cuda.get_device_name(device)
            return (
                f"backend={backend!r} needs a GPU with native bfloat16 (Ampere or newer); {name} "
                "only emulates it. Use backend='torch-float16'."
            )
    return None
