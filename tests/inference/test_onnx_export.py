"""The ONNX export runs in a child process: the same graph as in the calling process, clear errors.

The child (``python -m spacy_korsent.inference.onnx_export``) loads the model from its directory,
so the calling process never holds the torch model, the fp32 graph and the quantizer at once.
"""

import onnx
import pytest

from spacy_korsent import ModelNotFoundError
from spacy_korsent.inference import onnx_export
from spacy_korsent.inference.loading import load_model
from spacy_korsent.inference.onnx_export import ExportError, export_onnx


@pytest.mark.parametrize("quantize", [False, True])
def test_the_child_writes_the_graph_an_in_process_export_writes(
    quantize, sentiment_model_dir, tmp_path, monkeypatch
):
    onnx_export.export_model(load_model(sentiment_model_dir), tmp_path / "here.onnx")
    expected = tmp_path / "here.onnx"
    if quantize:
        onnx_export.quantize(expected, tmp_path / "here-int8.onnx")
        expected = tmp_path / "here-int8.onnx"

    def no_loading(*args, **kwargs):
        raise AssertionError("the calling process must not load the model to export it")

    monkeypatch.setattr("spacy_korsent.inference.loading.load_model", no_loading)
    target = tmp_path / "sub" / "model.onnx"
    assert export_onnx(sentiment_model_dir, target, quantize=quantize) == target
    assert target.read_bytes() == expected.read_bytes()
    graph = onnx.load(str(target))
    assert [i.name for i in graph.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in graph.graph.output] == ["logits"]
    dims = [d.dim_param for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "length"]
    assert graph.opset_import[0].version == onnx_export.OPSET
    ops = {node.op_type for node in graph.graph.node}
    assert ("MatMulIntegerToFloat" in ops) == quantize  # int8 products
    assert "DynamicQuantizeLinear" not in ops  # activations are quantized per token


def test_a_missing_model_is_a_one_line_model_not_found_error(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(ModelNotFoundError, match="no-such-model") as caught:
        export_onnx(tmp_path / "no-such-model", target, quantize=False)
    assert "\n" not in str(caught.value)
    assert not target.exists()


def test_a_child_without_onnx_says_what_to_install(sentiment_model_dir, tmp_path, monkeypatch):
    shadow = tmp_path / "shadow" / "onnx"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('onnx is not installed here')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    with pytest.raises(ImportError, match=r'needs the onnx package: pip install "spacy-korsent'):
        export_onnx(sentiment_model_dir, tmp_path / "model.onnx", quantize=False)


def test_other_failures_in_the_child_are_one_line_export_errors(sentiment_model_dir, tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(ExportError, match="Exporting .* to ONNX failed") as caught:
        export_onnx(sentiment_model_dir, tmp_path / "a-file" / "model.onnx", quantize=False)
    assert "\n" not in str(caught.value)
    assert str(sentiment_model_dir) in str(caught.value)
