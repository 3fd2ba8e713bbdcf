"""`verify FILE --stride --padding --layout --role`: what the person declares on the command line wins over what
the document says, the report says so, and a bad value is one line on stderr with exit 2.

Expected values are by hand (written out in each docstring)."""

from __future__ import annotations

import json

import pytest

from harness.cli import main

# X = 1..16 row by row, W = [[1, 0], [0, 1]]; with stride 2 each output is X[2i, 2j] + X[2i+1, 2j+1]:
# 1 + 6 = 7, 3 + 8 = 11, 9 + 14 = 23, 11 + 16 = 27. The document never says the stride.
STRIDED = """# a strided convolution

Input X:

[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]

Filter W:

[[1, 0], [0, 1]]

Output Z:

[[7, 11], [23, {z11}]]
"""

# NHWC input (H = W = 2, C = 2) and an HWIO 1x1 filter (1, 1, 2, 1) of [1, 2]: out[h, w] = X[h, w, 0] + 2·X[h, w, 1]
# = 1 + 20 = 21, 2 + 40 = 42, 3 + 60 = 63, 4 + 80 = 84.
NHWC = """Input X:

[[[1, 10], [2, 20]], [[3, 30], [4, 40]]]

Filter W:

[[[[1], [2]]]]

Output Z:

[[21, 42], [63, {z11}]]
"""

# The conv output is named Y (as in many posts); with no target, Y is read as the target and nothing is claimed.
# X = [[1, 2], [3, 4]], W = [[1, 1]]: Y = [[1 + 2], [3 + 4]] = [[3], [7]].
NAMED_Y = """X = [[1, 2], [3, 4]]

W = [[1, 1]]

Y = [[3], [{y1}]]
"""


def verify_json(tmp_path, capsys, text: str, *options: str) -> tuple[int, dict | str]:
    path = tmp_path / "d.md"
    path.write_text(text)
    code = main(["verify", str(path), "--json", *options])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else err)


@pytest.mark.parametrize("z11, status, code", [("27", "ok", 0), ("28", "wrong", 1)], ids=["right", "slip"])
def test_stride_declared_on_the_command_line(tmp_path, capsys, z11, status, code):
    got_code, got = verify_json(tmp_path, capsys, STRIDED.format(z11=z11), "--stride", "2")
    assert got_code == code, got
    assert [(s["step"], s["status"]) for s in got["steps"]] == [("output", status)]
    assert any("stride 2 declared on the command line" in n for n in got["notes"]), got["notes"]


def test_without_the_stride_the_shapes_do_not_fit(tmp_path, capsys):
    """Stride 1 gives a 3x3 output; the document's 2x2 does not fit it: refused, not judged wrong."""
    code, err = verify_json(tmp_path, capsys, STRIDED.format(z11="27"))
    assert code == 2 and "shape" in err, err


def test_padding_declared(tmp_path, capsys):
    """Padding 1 around [[1, 2], [3, 4]] with W = [[1, 0], [0, 1]]: the corner output is 0 + 1 = 1 (the pad and
    X[0, 0]); the output is 3x3: [[1, 2, 0], [3, 5, 2], [0, 3, 4]]."""
    text = "Input X:\n\n[[1, 2], [3, 4]]\n\nFilter W:\n\n[[1, 0], [0, 1]]\n\nOutput Z:\n\n" \
           "[[1, 2, 0], [3, 5, 2], [0, 3, 4]]\n"
    code, got = verify_json(tmp_path, capsys, text, "--padding", "1")
    assert code == 0 and [(s["step"], s["status"]) for s in got["steps"]] == [("output", "ok")], got


@pytest.mark.parametrize("z11, status", [("84", "ok"), ("85", "wrong")], ids=["right", "slip"])
def test_layout_nhwc_declared(tmp_path, capsys, z11, status):
    code, got = verify_json(tmp_path, capsys, NHWC.format(z11=z11), "--layout", "nhwc")
    assert [(s["step"], s["status"]) for s in got["steps"]] == [("output", status)], got


@pytest.mark.parametrize("y1, status", [("7", "ok"), ("8", "wrong")], ids=["right", "slip"])
def test_role_declared(tmp_path, capsys, y1, status):
    code, got = verify_json(tmp_path, capsys, NAMED_Y.format(y1=y1), "--role", "Y=output")
    assert [(s["step"], s["status"]) for s in got["steps"]] == [("output", status)], got


@pytest.mark.parametrize("options, message", [
    (("--stride", "0"), "--stride: '0' is not"),
    (("--stride", "two"), "--stride: 'two' is not"),
    (("--padding", "-1"), "--padding: '-1' is not"),
    (("--role", "Y"), "write NAME=ROLE"),
    (("--role", "Y=colour"), "write NAME=ROLE"),
], ids=["stride-zero", "stride-word", "padding-negative", "role-no-equals", "role-unknown"])
def test_bad_declarations_exit_2_one_line(tmp_path, capsys, options, message):
    path = tmp_path / "d.md"
    path.write_text(STRIDED.format(z11="27"))
    code = main(["verify", str(path), *options])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, f"observed {code} {err!r}, expected {message!r}"


def test_show_parsed_names_the_assignment_and_the_runner_up(tmp_path, capsys):
    """Two candidate filters for X = [[1, 2], [3, 5]]: [[0, 1], [1, 0]] gives 2 + 3 = 5, [[1, 0], [0, 1]] gives
    1 + 5 = 6, the claimed output. The second wins by the arithmetic; the first is the runner-up (0 of 1)."""
    text = "Input X:\n\n[[1, 2], [3, 5]]\n\nFilter W:\n\n[[0, 1], [1, 0]]\n\nFilter W:\n\n[[1, 0], [0, 1]]\n\n" \
           "Output Z:\n\n[[6]]\n"
    path = tmp_path / "d.md"
    path.write_text(text)
    code = main(["verify", str(path), "--show-parsed"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "assignment" in out and "filter <- line 11" in out and "the arithmetic: 1 of 1" in out, out
    assert "runner-up (0 of 1" in out and "filter <- line 7" in out, out
