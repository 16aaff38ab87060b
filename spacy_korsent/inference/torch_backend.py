"""The default backend: a transformers model run by torch under ``inference_mode``.

``dtype`` sets the precision of the matrix multiplications, through ``torch.autocast`` (the
weights stay float32: the module is the component's own, and training updates it in place):
``float32``; ``bfloat16`` on CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX on x86,
BF16 on ARM), where oneDNN's bfloat16 kernels run about twice as fast as float32, and on GPUs
from Ampere on; ``float16`` on GPUs. Embeddings, layer norms and softmax stay float32 under
autocast. Where the hardware would only emulate a dtype (slower than float32), it is refused.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .parallel import PerProcess, ShardPool, process_threads, shard_pool

if TYPE_CHECKING:
    import torch

DTYPES = ("float32", "bfloat16", "float16")
_FAST_CPU_PATH = "backend='onnx' with quantize=true is the fastest CPU path"

_single_threaded = threading.local()


class TorchBackend:
    """Map padded id/mask arrays to logits with a torch model.

    On CPU each batch is split into one shard per thread of the process's shared shard pool, each
    run by single-threaded torch (see :mod:`spacy_korsent.inference.parallel`). Threads:
    ``n_threads``; by default torch's own count (so ``torch.set_num_threads`` before the first doc
    is respected), and half the cores in each worker of ``nlp.pipe(n_process=2)``.

    The module is the component's own (training updates it in place), so the backend never changes
    it: no casts, and evaluation mode is set only for the duration of a batch's forward pass.
    """

    def __init__(
        self,
        model: Any,
        device: torch.device,
        *,
        dtype: str = "float32",
        n_threads: Optional[int] = None,
    ) -> None:
        import torch

        check_dtype(dtype)
        refusal = _unsupported(dtype, device)
        if refusal:
            raise ValueError(refusal)
        self.device = device
        self.model = model.to(device)
        self.autocast_dtype = None if dtype == "float32" else getattr(torch, dtype)
        self.n_threads = n_threads
        self._shards = PerProcess(self._shard_pool)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        shards = self._shards.get()
        if shards is None:
            return self._forward(input_ids, attention_mask)
        return shards(self._forward_single_threaded, input_ids, attention_mask)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        if self.model.training:
            self.model.eval()  # spaCy's training loop leaves it in training mode
        with torch.inference_mode(), self._autocast():
            logits = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            ).logits
            return logits.float().cpu().numpy()

    def _forward_single_threaded(
        self, input_ids: np.ndarray, attention_mask: np.ndarray
    ) -> np.ndarray:
        """The forward pass in a shard thread, which runs torch on one thread (set once)."""
        if not getattr(_single_threaded, "done", False):
            import torch

            torch.set_num_threads(1)  # per thread: the calling thread keeps its own setting
            _single_threaded.done = True
        return self._forward(input_ids, attention_mask)

    def _autocast(self) -> Any:
        import torch

        if self.autocast_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _shard_pool(self, *, inherited: bool) -> Optional[ShardPool]:
        """The shard pool on CPU; None on a GPU, which runs the whole batch at once."""
        import torch

        if self.device.type != "cpu":
            return None
        return shard_pool(
            process_threads(self.n_threads, torch.get_num_threads, inherited=inherited)
        )


def check_dtype(dtype: str) -> None:
    """Refuse a dtype name that is none of :data:`DTYPES`."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(map(repr, DTYPES))}, not {dtype!r}.")


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


def _unsupported(dtype: str, device: torch.device) -> Optional[str]:
    """Why ``dtype`` cannot run (fast) on ``device``; None when it can."""
    import torch

    if dtype == "float16" and device.type != "cuda":
        return (
            f"dtype='float16' needs a CUDA device, not {device.type!r}: a CPU only emulates "
            "float16, more slowly than float32. On a CPU with AVX512-BF16 or AMX use "
            f"dtype='bfloat16'; elsewhere {_FAST_CPU_PATH}."
        )
    if dtype == "bfloat16" and device.type == "cpu" and not cpu_supports_bfloat16():
        return (
            "dtype='bfloat16' needs a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX "
            "on x86, BF16 on ARM); this one would only emulate it, more slowly than float32. "
            f"Keep dtype='float32'; {_FAST_CPU_PATH}."
        )
    if dtype == "bfloat16" and device.type == "cuda":
        major, _ = torch.cuda.get_device_capability(device)
        if major < 8:
            name = torch.cuda.get_device_name(device)
            return (
                f"dtype='bfloat16' needs a GPU with native bfloat16 (Ampere or newer); {name} "
                "only emulates it. Use dtype='float16'."
            )
    return None
