"""The inference engine (subword windows, token-budget batches) and its torch and ONNX backends."""
