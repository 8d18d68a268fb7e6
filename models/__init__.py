"""The shipped model files (ONNX, head weights, manifest.json); made by training/."""
