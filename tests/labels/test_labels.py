"""The labels' codes read by a real decoder: each label made by the built binary
(target/debug/ritplan), its pages rendered by poppler's `pdftoppm -r 300`, and the codes decoded
by zxing-cpp (PyPI `zxing-cpp`). On a patient's label both codes must be the patient's ID; on a
vial's label the Data Matrix must be exactly the vial code printed on the same label (read
from the page by poppler's `pdftotext`). Each code must lie inside the label, clear of its
edges."""

import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

STRICT = bool(os.environ.get("RITPLAN_TEST_STRICT"))


def needed(module):
    try:
        return __import__(module)
    except ImportError:
        if STRICT:
            raise
        pytest.skip(f"{module} is not installed (PyPI zxing-cpp, pillow)", allow_module_level=True)


zxingcpp = needed("zxingcpp")
needed("PIL")
from PIL import Image  # noqa: E402

if not shutil.which("pdftoppm"):
    if STRICT:
        raise RuntimeError("pdftoppm (poppler-utils) is needed")
    pytest.skip("pdftoppm (poppler-utils) is not installed", allow_module_level=True)

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "debug" / "ritplan"
DPI = 300
PX_PER_MM = DPI / 25.4

# IDs that need care: a hyphen and leading zeros (Code 128 set B, then C for the digits), all
# digits (set C from the start), an odd run of digits, lower case and a slash.
PATIENTS = [
    ("P-000123", "José Núñez-Åberg"),
    ("12345678", "Zoë O'Brien"),
    ("A1234567b", "Björn Ærø"),
    ("mrn/77-x", "Ana María Pérez"),
]
CJK = ("P-000200", "张伟")


def run(env, *args, stdin=None):
    p = subprocess.run([str(BIN), *args], env=env, input=stdin, capture_output=True, text=True)
    assert p.returncode == 0, f"{args}: {p.stderr}"
    return p.stdout


def cjk_font():
    return any(pathlib.Path(f).exists() for f in [
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "/usr/share/fonts/truetype/arphic/uming.ttc",
    ])


@pytest.fixture(scope="module")
def ward():
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        env = dict(os.environ)
        env.update(RITPLAN_DB=str(tmp / "ward.db"), XDG_RUNTIME_DIR=str(tmp / "run"),
                   XDG_CONFIG_HOME=str(tmp / "config"), RITPLAN_NOW="2026-12-07T07:50",
                   NO_COLOR="1")
        run(env, "init", "--admin", "admin", "--name", "Ward Admin", "--training",
            "--password-stdin", stdin="admin-password-1\n")
        run(env, "staff", "add", "--id", "rn.li", "--name", "RN Li", "--role", "nurse",
            "--password-stdin", stdin="nurse-password-1\n")
        run(env, "login", "rn.li", "--password-stdin", stdin="nurse-password-1\n")
        patients = PATIENTS + ([CJK] if cjk_font() or STRICT else [])
        for pid, name in patients:
            run(env, "patient", "add", "--id", pid, "--name", name, "--dob", "1990-05-01",
                "--weight", "70", "--sige", "2", "--total-ige", "410", "--fev1", "92",
                "--asthma", "controlled")
        yield env, tmp


def render(env, tmp, pid, size):
    pdf = tmp / f"label-{''.join(c if c.isalnum() else '_' for c in pid)}-{size}.pdf"
    run(env, "label", "patient", pid, "--size", size, "--out", str(pdf))
    prefix = tmp / pdf.stem
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-f", "1", "-l", "1", str(pdf),
                    str(prefix)], check=True)
    png = next(tmp.glob(f"{pdf.stem}*.png"))
    return Image.open(png).convert("L")


def decoded(image):
    return [(r.format.name, r.text, r.position) for r in zxingcpp.read_barcodes(image)]


def corners(position):
    return [(p.x, p.y) for p in (position.top_left, position.top_right, position.bottom_right,
                                 position.bottom_left)]


@pytest.mark.parametrize("pid,name", PATIENTS + [CJK])
def test_both_codes_decode_to_the_patient_id(ward, pid, name):
    env, tmp = ward
    if (pid, name) == CJK and not (cjk_font() or STRICT):
        pytest.skip("no CJK font on this machine")
    image = render(env, tmp, pid, "50x25")
    # 50 x 25 mm at 300 dpi.
    assert abs(image.width - 50 * PX_PER_MM) <= 2 and abs(image.height - 25 * PX_PER_MM) <= 2
    found = decoded(image)
    assert sorted(f for f, _, _ in found) == ["Code128", "DataMatrix"], found
    edge = PX_PER_MM  # 1 mm
    for fmt, text, position in found:
        assert text == pid, (fmt, text)
        for x, y in corners(position):
            assert edge <= x <= image.width - edge and edge <= y <= image.height - edge, (
                fmt, corners(position))


@pytest.mark.parametrize("size", ["54x25", "100x40", "150x100"])
def test_other_sizes_decode_too(ward, size):
    env, tmp = ward
    found = decoded(render(env, tmp, "P-000123", size))
    assert sorted(f for f, _, _ in found) == ["Code128", "DataMatrix"], found
    assert all(text == "P-000123" for _, text, _ in found), found


def test_an_a4_sheet_decodes_to_the_same_id_everywhere(ward):
    env, tmp = ward
    image = render(env, tmp, "P-000123", "a4")
    found = decoded(image)
    formats = {f for f, _, _ in found}
    assert formats == {"Code128", "DataMatrix"}, found
    assert all(text == "P-000123" for _, text, _ in found), found
    # 40 labels; the decoder finds most of the 80 codes on one A4 page at 300 dpi.
    assert len(found) >= 40, len(found)


# Vial labels: course 1 of P-000123 with vials 1, 3 and 4 (V000001..V000003), V000002
# discarded; V000004 (vial 2) later.
VIAL_SIZES = ["64x32", "70x35", "100x50", "150x100"]


@pytest.fixture(scope="module")
def vials(ward):
    env, tmp = ward
    run(env, "course", "start", "--patient", "P-000123", "--template", "example-hdm-rush-3d",
        "--start", "2026-12-07")
    for vial in ["1", "3", "4", "2"]:
        run(env, "vial", "add", "1", "--vial", vial, "--lot", f"LOT-{vial}", "--expires",
            "2027-03-31")
    run(env, "vial", "discard", "V000002", "--reason", "dropped")
    return env, tmp, ["V000001", "V000003", "V000004"]


def render_vials(env, tmp, size):
    pdf = tmp / f"vials-{size}.pdf"
    run(env, "label", "vials", "1", "--size", size, "--out", str(pdf))
    prefix = tmp / pdf.stem
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(prefix)], check=True)
    images = [Image.open(p).convert("L") for p in sorted(tmp.glob(f"{pdf.stem}-*.png"))]
    texts = []
    for page in range(1, len(images) + 1):
        texts.append(subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
            check=True, capture_output=True, text=True).stdout)
    return images, texts


@pytest.mark.parametrize("size", VIAL_SIZES)
def test_each_vial_label_s_data_matrix_is_the_code_printed_on_it(vials, size):
    env, tmp, active = vials
    images, texts = render_vials(env, tmp, size)
    assert len(images) == len(active), (size, len(images))
    w, h = (int(n) for n in size.split("x"))
    edge = PX_PER_MM  # 1 mm
    for image, text, code in zip(images, texts, active):
        assert abs(image.width - w * PX_PER_MM) <= 2 and abs(image.height - h * PX_PER_MM) <= 2
        printed = re.findall(r"V\d{6}", text)
        assert printed == [code], (size, printed, text)
        found = decoded(image)
        assert [(f, t) for f, t, _ in found] == [("DataMatrix", code)], (size, found)
        for x, y in corners(found[0][2]):
            assert edge <= x <= image.width - edge and edge <= y <= image.height - edge, (
                size, corners(found[0][2]))
    # The discarded vial is not printed.
    assert not any("V000002" in t for t in texts)


def test_an_a4_sheet_of_vial_labels_decodes_to_the_codes_printed(vials):
    env, tmp, active = vials
    images, texts = render_vials(env, tmp, "a4")
    assert len(images) == 1
    found = decoded(images[0])
    assert sorted((f, t) for f, t, _ in found) == [("DataMatrix", c) for c in active], found
    assert sorted(re.findall(r"V\d{6}", texts[0])) == active, texts[0]
