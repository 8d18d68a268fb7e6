"""The face step: MTCNN's P-, R- and O-net (facenet-pytorch 2.6.0, MIT) → three ONNX files.

Run it as ``python -m training.faces --out DIR``. One module per job:

- nets: the three nets in PyTorch, loading the wheel's state dicts strictly;
- convert: export to ONNX with the pixel normalisation in the graph, and the files' contracts;
- reference: facenet-pytorch's own detect_face, runnable without torchvision;
- verify: ONNX against PyTorch per net, the engine's numpy pipeline against detect_face;
- report: faces.json; pipeline: the steps in order, and the CLI.

Needs torch and onnx (the ``train-backbone`` extras) and ``pip install --no-deps
facenet-pytorch==2.6.0``: only its data files and detect_face.py are read, never its package
__init__ (which needs torchvision). The names below are what tests and callers use.
"""

from training.faces.convert import (
    FILE_NAMES,
    INPUT_NAME,
    OUTPUT_NAMES,
    contract,
    export_all,
    export_onnx,
    torch_outputs,
)
from training.faces.nets import NET_NAMES, find_state_dicts, load_nets, package_available
from training.faces.pipeline import main, parse_args
from training.faces.reference import load_detect_face, reference_faces
from training.faces.verify import (
    NET_TOLERANCE,
    PIPELINE_TOLERANCE_PX,
    NetParity,
    PipelineParity,
    check_nets,
    check_pipeline,
    drawn_pictures,
    net_failures,
    onnx_detector,
    pipeline_failures,
    working_pictures,
)

__all__ = [
    "FILE_NAMES",
    "INPUT_NAME",
    "NET_NAMES",
    "NET_TOLERANCE",
    "OUTPUT_NAMES",
    "PIPELINE_TOLERANCE_PX",
    "NetParity",
    "PipelineParity",
    "check_nets",
    "check_pipeline",
    "contract",
    "drawn_pictures",
    "export_all",
    "export_onnx",
    "find_state_dicts",
    "load_detect_face",
    "load_nets",
    "main",
    "net_failures",
    "onnx_detector",
    "package_available",
    "parse_args",
    "pipeline_failures",
    "reference_faces",
    "torch_outputs",
    "working_pictures",
]
