"""The face nets exported by training/faces/: ONNX against PyTorch, and the engine's numpy MTCNN
against facenet-pytorch's own detect_face, on drawn pictures and (when present) real photos."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import onnxruntime as ort
import pytest

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO.parent / "shared" / "photos"
INSTALL_HINT = "pip install --no-deps facenet-pytorch==2.6.0"


def import_faces() -> ModuleType:
    """Import training.faces, skipping when torch, onnx or the weights wheel are missing."""
    for module in ("torch", "onnx"):
        pytest.importorskip(module, reason=f"{module} not installed "
                                           "(pip install -e '.[train-backbone]')")
    # Looked up, not imported: facenet_pytorch's __init__ needs torchvision, which we never
    # install; training.faces reads only its data files and detect_face.py.
    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip(f"facenet-pytorch not installed, no MTCNN weights ({INSTALL_HINT})")
    import training.faces

    return training.faces


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, dict, dict]:
    """(training.faces, the PyTorch nets, the exported ONNX paths) for this module's tests."""
    faces = import_faces()
    nets = faces.load_nets()
    paths = faces.export_all(nets, tmp_path_factory.mktemp("faces"))
    return faces, nets, paths


def pictures(faces: ModuleType) -> list:
    """Drawn pictures, plus every 40th idphoto/single/social/travel photo when they are here."""
    drawn = faces.drawn_pictures()
    if not (PHOTOS / "manifest.csv").is_file():
        print(f"{PHOTOS} absent: drawn pictures only")
        return drawn
    return [*drawn, *faces.working_pictures(PHOTOS, step=40)]


@pytest.mark.training
def test_exported_graphs_have_the_contract(exported: tuple[ModuleType, dict, dict]) -> None:
    faces, _, paths = exported
    shapes = {"pnet": ["N", "H", "W", 3], "rnet": ["N", 24, 24, 3], "onet": ["N", 48, 48, 3]}
    for name, path in paths.items():
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (image,) = session.get_inputs()
        assert (image.name, image.type) == ("image", "tensor(float)")
        assert image.shape == shapes[name]
        assert [o.name for o in session.get_outputs()] == list(faces.OUTPUT_NAMES[name])
        assert path.stat().st_size < 2_000_000  # ~2 MB for all three: fp32 is fine


@pytest.mark.training
def test_onnx_nets_match_pytorch(exported: tuple[ModuleType, dict, dict]) -> None:
    faces, nets, paths = exported

    results = faces.check_nets(nets, paths, pictures(faces))

    assert {r.net for r in results} == {"pnet", "rnet", "onet"}
    worst = max(max(r.max_abs.values()) for r in results)
    print(f"net parity: {len(results)} batches, largest |ONNX - PyTorch| {worst:.2e}")
    assert faces.net_failures(results) == []


@pytest.mark.training
def test_numpy_pipeline_matches_facenet_pytorch(exported: tuple[ModuleType, dict, dict]) -> None:
    faces, nets, paths = exported

    results = faces.check_pipeline(nets, paths, pictures(faces))

    found = sum(r.faces for r in results)
    worst = max(max(r.max_abs_box_px, r.max_abs_landmark_px) for r in results)
    print(f"pipeline parity: {len(results)} pictures, {found} faces, largest box/landmark "
          f"difference {worst:.2e} px")
    assert faces.pipeline_failures(results) == []
    assert all(r.faces == 0 for r in results if not r.source.startswith(("idphoto", "single",
                                                                          "social", "travel")))
    if (PHOTOS / "manifest.csv").is_file():
        assert found >= 5, "too few faces on the photos for the comparison to mean anything"


@pytest.mark.training
def test_cli_exports_and_reports(tmp_path: Path) -> None:
    faces = import_faces()
    report = tmp_path / "faces.json"

    code = faces.main(["--out", str(tmp_path), "--report", str(report), "--no-photos"])

    assert code == 0
    written = json.loads(report.read_text())
    assert written["provenance"]["weights_package"] == "facenet-pytorch"
    assert written["provenance"]["weights_package_version"] == "2.6.0"
    assert written["provenance"]["weights_licence"] == "MIT"
    assert set(written["provenance"]["weights_files"]) == {"pnet", "rnet", "onet"}
    for name, entry in written["files"].items():
        path = tmp_path / entry["file"]
        assert path.is_file() and entry["bytes"] == path.stat().st_size, name
        assert len(entry["sha256"]) == 64
    assert written["parity"] and written["pipeline_parity"]
