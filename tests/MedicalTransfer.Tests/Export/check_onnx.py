"""Runs the ONNX project's own checker, with shape inference, on exported files.

Usage: /usr/bin/python3 check_onnx.py FILE...   (Debian 12: apt-get install python3-onnx, ONNX 1.12)
Prints one line per file: 'OK <path> ir=<ir> opset=<opset> nodes=<n> output=<shape>' or 'FAIL <path>: <reason>';
exits 1 when any file fails.
"""
import sys

import onnx
from onnx import checker, shape_inference

failed = False
for path in sys.argv[1:]:
    try:
        model = onnx.load(path)
        checker.check_model(model, full_check=True)
        inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        out = inferred.graph.output[0].type.tensor_type.shape
        dims = [d.dim_param or str(d.dim_value) for d in out.dim]
        opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")][0]
        print("OK %s ir=%d opset=%d nodes=%d output=[%s] onnx=%s" % (path, model.ir_version, opset, len(model.graph.node), ",".join(dims), onnx.__version__))
    except Exception as e:  # report every file, then fail
        failed = True
        print("FAIL %s: %s" % (path, str(e).replace("\n", " ")))
sys.exit(1 if failed else 0)
