"""samples/python/face_detection.py runs end to end, with the C++ and with the Python (numpy)
BlazeFace postprocessor, on a short clip of Megamind.avi: each stream's mp4 has every frame, the
JSON Lines have every frame with its faces, both decoders find the same faces, and the faces'
pixels were changed (pixelated) in the output video."""

import json
import os
import pathlib
import subprocess

import pytest

SAMPLE = pathlib.Path(__file__).resolve().parent.parent.parent / "samples" / "python" / "face_detection.py"
MEGAMIND = pathlib.Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi")
FRAMES = 24


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    assert MEGAMIND.exists(), "scripts/deps.sh installs opencv-doc, whose Megamind.avi the sample decodes"
    path = tmp_path_factory.mktemp("clip") / "megamind_start.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(MEGAMIND), "-an", "-frames:v", str(FRAMES), "-c:v", "libx264",
                    "-qp", "0", str(path)], check=True)
    return path


def run_sample(clip, output, *options):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(["/usr/bin/python3", str(SAMPLE), "--input", str(clip), "--streams", "2",
                             "--output", str(output), *options], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def frame_count(video):
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames", "-of", "csv=p=0", str(video)],
                           capture_output=True, text=True, check=True)
    return int(probe.stdout.strip())


def faces_by_frame(output):
    lines = [json.loads(line) for line in (output / "faces.jsonl").read_text().splitlines()]
    return {(line["stream_id"], line["frame_index"]): line["objects"] for line in lines}


def test_face_detection_sample_in_both_modes(clip, tmp_path):
    built_in = tmp_path / "cpp"
    python = tmp_path / "python"
    printed = run_sample(clip, built_in)
    printed_python = run_sample(clip, python, "--python-postproc")
    assert "C++ (blazeface)" in printed and "Python (blazeface_postproc.py)" in printed_python

    for output, text in ((built_in, printed), (python, printed_python)):
        for stream in ("stream_0", "stream_1"):
            video = output / f"{stream}.mp4"
            assert frame_count(video) == FRAMES
            assert f"{stream}: {FRAMES} frames, " in text and str(video) in text
        assert str(output / "faces.jsonl") in text
        faces = faces_by_frame(output)
        assert sorted(faces) == sorted((s, i) for s in ("stream_0", "stream_1") for i in range(FRAMES))
        with_faces = sum(1 for objects in faces.values() if objects)
        assert with_faces >= len(faces) * 3 // 4  # Megamind's face is in most frames
        assert all(o["label"] == "face" and o["track_id"] >= 0 for objects in faces.values() for o in objects)

    # The two decoders find the same faces.
    cpp_faces, python_faces = faces_by_frame(built_in), faces_by_frame(python)
    for key, objects in cpp_faces.items():
        assert len(python_faces[key]) == len(objects), key
        for found, expected in zip(python_faces[key], objects):
            assert found["box"] == pytest.approx(expected["box"], abs=0.05), key  # (pixels)


def test_face_detection_sample_pixelates_the_faces(clip, tmp_path):
    # A frame of the output differs from the input inside the face's box, hardly outside it.
    import numpy as np

    output = tmp_path / "out"
    run_sample(clip, output, "--block", "16")
    faces = faces_by_frame(output)
    index = min(i for (stream, i), objects in faces.items() if stream == "stream_0" and objects)
    x, y, w, h = (int(v) for v in faces[("stream_0", index)][0]["box"])

    def gray_frame(video):
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"select=eq(n\\,{index})",
                              "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                             capture_output=True, check=True).stdout
        return np.frombuffer(raw, dtype=np.uint8)

    width = int(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width",
                                "-of", "csv=p=0", str(clip)], capture_output=True, text=True, check=True).stdout)
    source = gray_frame(clip).reshape(-1, width).astype(int)
    result = gray_frame(output / "stream_0.mp4").reshape(-1, width).astype(int)
    inside = np.abs(source[y:y + h, x:x + w] - result[y:y + h, x:x + w]).mean()
    outside = np.abs(source[:, :max(1, x - 20)] - result[:, :max(1, x - 20)]).mean()
    assert inside > 3 * outside + 2, (inside, outside)
