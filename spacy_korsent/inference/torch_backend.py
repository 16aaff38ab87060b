"""The default backend: a transformers model run by torch under ``inference_mode``.

``dtype`` picks the precision of the matrix multiplications: ``float32``; ``bfloat16`` on CPUs
with native bfloat16 arithmetic (AVX512-BF16 or AMX on x86, BF16 on ARM) and on GPUs from
Ampere on; ``float16`` on GPUs. In lower precision the Linear layers' weights are kept in that
dtype (in a copy of the model: the caller's float32 weights stay as they are, to be saved or
exported) and the model runs under ``torch.autocast``, which keeps embeddings, layer norms and
softmax in float32. On a CPU without native bfloat16, bfloat16 would be emulated and slower
than float32: it is refused.
"""

from __future__ import annotations

import contextlib
import copy
import os
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .parallel import ShardPool, process_threads

if TYPE_CHECKING:
    import torch

DTYPES = ("float32", "bfloat16", "float16")


def check_dtype(dtype: str) -> None:
    """Refuse a dtype name that is none of :data:`DTYPES` (before torch is even imported)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(map(repr, DTYPES))}, not {dtype!r}.")


def cpu_supports_bfloat16() -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (as oneDNN's bfloat16 kernels need)."""
    import torch

    capabilities = getattr(torch.cpu, "get_capabilities", None)  # older torch: a private check
    if capabilities is None:
        return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
    found = capabilities()
    return any(found.get(name, False) for name in ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16"))


def _refusal(dtype: str, device: torch.device) -> Optional[str]:
    """Why ``dtype`` cannot run on ``device`` (None when it can)."""
    import torch

    faster = "backend='onnx' with quantize=true is the fast CPU path"
    if dtype == "float16" and device.type != "cuda":
        return (
            f"dtype='float16' needs a CUDA device, not {device.type!r}: on CPU, float16 is "
            f"emulated and slower than float32. Use dtype='bfloat16' on a CPU that supports it "
            f"(AVX512-BF16 or AMX), or {faster}."
        )
    if dtype == "bfloat16" and device.type == "cpu" and not cpu_supports_bfloat16():
        return (
            "dtype='bfloat16' needs a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX on "
            "x86, BF16 on ARM), and this one has none: bfloat16 would be emulated and slower than "
            f"float32. Keep dtype='float32', or {faster}."
        )
    if dtype == "bfloat16" and device.type == "cuda":
        major, _ = torch.cuda.get_device_capability(device)
        if major < 8:
            return (
                f"dtype='bfloat16' needs a GPU with native bfloat16 (Ampere or newer); "
                f"{torch.cuda.get_device_name(device)} has none. Use dtype='float16'."
            )
    return None


def _low_precision_copy(model: Any, dtype: torch.dtype) -> Any:
    """A copy of ``model`` whose Linear layers hold ``dtype`` weights; other weights are shared.

    The caller's model is left in float32 (its weights may still be saved or exported); only the
    converted weights take new memory.
    """
    import torch

    memo: dict[int, Any] = {}
    for module in model.modules():
        convert = isinstance(module, torch.nn.Linear)
        for param in module.parameters(recurse=False):
            memo[id(param)] = (
                torch.nn.Parameter(param.detach().to(dtype), requires_grad=False)
                if convert
                else param
            )
    return copy.deepcopy(model, memo)


class TorchBackend:
    """Map padded id/mask arrays to softmax probabilities with a torch model.

    On CPU each batch is split into one shard per thread, each run by single-threaded torch
    (see :mod:`spacy_korsent.parallel`). Threads: ``n_threads``; by default torch's own count
    (so ``torch.set_num_threads`` before the first doc is respected), and half the cores in each
    worker of ``nlp.pipe(n_process=2)``.
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
        refusal = _refusal(dtype, device)
        if refusal:
            raise ValueError(refusal)
        self.device = device
        self.dtype = dtype
        self.model = model.to(device)
        if dtype != "float32":
            self.model = _low_precision_copy(self.model, getattr(torch, dtype))
        self.n_threads = n_threads
        self._shards: Optional[ShardPool] = None
        self._ready_in: Optional[int] = None

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self._prepare_process()
        if self._shards is None:
            return self._forward(input_ids, attention_mask)
        return self._shards(self._forward, input_ids, attention_mask)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode(), self._precision():
            logits = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            ).logits
            return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def _precision(self) -> contextlib.AbstractContextManager:
        """Autocast to ``dtype`` (entered in each shard thread: autocast is per thread)."""
        import torch

        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, self.dtype))

    def _prepare_process(self) -> None:
        """Size torch's threads (and the shard threads) once per process.

        A forked worker inherits neither torch's pool nor the shard threads: it makes its own.
        """
        pid = os.getpid()
        if self._ready_in == pid:
            return
        import torch

        threads = process_threads(self.n_threads, inherited=self._ready_in is not None)
        own = torch.get_num_threads()
        self._shards = None
        if self.device.type != "cpu" or (threads or own) == 1:
            if threads:
                torch.set_num_threads(threads)
        else:
            # Shard threads run single-threaded torch; this thread's own setting stays as it was.
            self._shards = ShardPool(threads or own, init_thread=lambda: torch.set_num_threads(1))
            torch.set_num_threads(own)
        self._ready_in = pid

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (for a spawned worker) without the threads, which are made again on first use."""
        return {**self.__dict__, "_shards": None, "_ready_in": None}
