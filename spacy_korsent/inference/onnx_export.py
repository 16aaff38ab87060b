"""Export a saved sequence classifier to ONNX (optionally int8) in a child process.

The export needs the fp32 torch model, the fp32 graph and, with ``quantize``, ONNX Runtime's
quantizer in memory at once: for a base-sized model about 2 GB. Done in the calling process, that
peak stays with it (the allocator keeps most of it), next to the session that then runs the
model. :func:`export_onnx` therefore runs ``python -m spacy_korsent.inference.onnx_export`` on a
model directory (or hub id) and waits: the caller never holds the torch model for the export's
sake, and what the export needed is given back to the system when the child ends.

The graph: inputs ``input_ids`` and ``attention_mask`` (int64, dynamic batch and length axes),
output ``logits``, opset 17, the TorchScript exporter with constant folding. ``quantize`` adds
int8 dynamic quantization of the MatMul weights (per output channel) with each token's
activations quantized on its own (:mod:`.row_quantization`), which on CPU makes it two to three
times faster again and leaves every text's answer independent of its batch.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional

from .loading import ModelNotFoundError, load_model
from .onnx_backend import require
from .row_quantization import quantize_rows

INPUTS = ("input_ids", "attention_mask")
OPSET = 17
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The directory holding ``spacy_korsent``, so that the child imports this very copy."""


class ExportError(RuntimeError):
    """The export failed in the child process for a reason other than a missing package or model."""


def export_onnx(source: str | Path, target: str | Path, *, quantize: bool) -> Path:
    """Export the model saved at ``source`` (directory or hub id) to ``target``; return ``target``.

    Runs in a child process. Raises :class:`ImportError` (with the install command) when onnx or
    onnxruntime is missing, :class:`~spacy_korsent.ModelNotFoundError` when ``source`` cannot be
    loaded, :class:`ExportError` for anything else that goes wrong in the child; each with a
    one-line message. The child's intermediate files are made in ``target``'s directory.
    """
    require("onnx")
    require("onnxruntime")
    target = Path(target)
    command = [sys.executable, "-m", __name__, str(source), str(target)]
    if quantize:
        command.append("--quantize")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise _child_error(source, done)
    return target


def _child_error(source: str | Path, done: subprocess.CompletedProcess) -> Exception:
    """Rebuild the child's error from the JSON line it printed last (or from how it ended)."""
    lines = done.stdout.strip().splitlines()
    try:
        failure = json.loads(lines[-1])
        kind, message = failure["error"], failure["message"]
    except (IndexError, ValueError, KeyError, TypeError):
        if done.returncode < 0:
            how = f"was killed by signal {-done.returncode}"
            if done.returncode == -9:
                how += " (out of memory?)"
        else:
            how = f"exited with status {done.returncode}"
        last = " ".join(done.stderr.strip().splitlines()[-1:])
        return ExportError(f"Exporting {str(source)!r} to ONNX: the export process {how}. {last}")
    if kind == "ImportError":
        return ImportError(message)
    if kind == "ModelNotFoundError":
        return ModelNotFoundError(message)
    return ExportError(f"Exporting {str(source)!r} to ONNX failed: {kind}: {message}")


# --- what the child runs -----------------------------------------------------------------------


def export_model(model: Any, target: Path) -> None:
    """Write the loaded torch sequence classifier ``model`` as an fp32 ONNX graph to ``target``."""
    import torch

    require("onnx")
    dummy = torch.ones((2, 8), dtype=torch.long, device=next(model.parameters()).device)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter needs no onnxscript; torch warns that it is the legacy one.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (dummy, dummy),
            str(target),
            input_names=list(INPUTS),
            output_names=["logits"],
            dynamic_axes={
                **{name: {0: "batch", 1: "length"} for name in INPUTS},
                "logits": {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def quantize(source: Path, target: Path) -> None:
    """int8 dynamic quantization of the matrix multiplications: weights per output channel,
    activations per token."""
    onnx = require("onnx")
    quantization = require("onnxruntime.quantization")
    # Its advice to pre-process first does not apply: shape inference fails on these graphs.
    root = logging.getLogger()
    root.addFilter(_not_preprocessing_advice)
    try:
        quantization.quantize_dynamic(
            str(source),
            str(target),
            weight_type=quantization.QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
    finally:
        root.removeFilter(_not_preprocessing_advice)
    onnx.save(quantize_rows(onnx.load(str(target))), str(target))


def _not_preprocessing_advice(record: logging.LogRecord) -> bool:
    return "pre-processing before quantization" not in record.getMessage()


def main(argv: Optional[list[str]] = None) -> int:
    """The child: export, or print the error as one JSON line on stdout and exit with 1."""
    parser = argparse.ArgumentParser(description="Export a saved classifier to ONNX.")
    parser.add_argument("source", help="model directory or hub id")
    parser.add_argument("target", type=Path, help="the .onnx file to write")
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantization")
    args = parser.parse_args(argv)
    try:
        # Beside the target, in the caller's scratch directory: if this process is killed, its
        # files go with that directory (spacy_korsent.scratch), not stay in $TMPDIR.
        args.target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".export-", dir=args.target.parent) as tmp:
            written = Path(tmp) / "fp32.onnx"
            model = load_model(args.source)
            export_model(model, written)
            del model  # the quantizer does not need the torch weights: give them back first
            gc.collect()
            if args.quantize:
                quantize(written, Path(tmp) / "int8.onnx")
                written = Path(tmp) / "int8.onnx"
            # Only a finished export reaches the target (a failed one leaves no partial file).
            os.replace(written, args.target)
    except Exception as err:  # reported to the parent, which raises it again
        print(json.dumps(_failure(err)), flush=True)
        return 1
    return 0


def _failure(err: Exception) -> dict[str, str]:
    """What the parent needs to raise the error again: its kind and a one-line message."""
    kind = type(err).__name__
    if isinstance(err, ModelNotFoundError):
        kind = "ModelNotFoundError"
    elif isinstance(err, ImportError):
        kind = "ImportError"
    return {"error": kind, "message": " ".join(str(err).split()) or repr(err)}


if __name__ == "__main__":
    sys.exit(main())
