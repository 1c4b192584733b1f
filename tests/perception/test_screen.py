"""Screen parsing without an accessibility tree: OCR words, widget shapes, labels, marks."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from perception.ocr import IncrementalOcr, Tesseract, Word, group_lines, parse_tsv
from perception.screen import detect_shapes, draw_marks, find_template, parse_screen, to_gray

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract not installed (apt-get install tesseract-ocr)")


def font(size: int = 16) -> ImageFont.ImageFont:
    return ImageFont.truetype(str(FONT_PATH), size) if FONT_PATH.exists() else ImageFont.load_default()


def form_image(checked: bool = True, radio_on: bool = False, value: str = "") -> np.ndarray:
    """A light-grey form: two labelled fields, a checkbox, two radios, a button."""
    img = Image.new("RGB", (640, 360), (217, 217, 217))
    d = ImageDraw.Draw(img)
    f = font()
    d.text((20, 24), "Name", fill="black", font=f)
    d.rectangle((100, 18, 400, 46), fill="white", outline=(120, 120, 120))
    if value:
        d.text((106, 23), value, fill="black", font=f)
    d.text((20, 74), "Email", fill="black", font=f)
    d.rectangle((100, 68, 400, 96), fill="white", outline=(120, 120, 120))
    d.rectangle((100, 120, 114, 134), fill="white", outline=(60, 60, 60))
    if checked:
        d.line((103, 127, 106, 131, 112, 122), fill="black", width=2)
    d.text((124, 117), "Remember me", fill="black", font=f)
    for i, label in enumerate(("Small", "Large")):
        x = 100 + i * 120
        d.ellipse((x, 160, x + 14, 174), fill="white", outline=(60, 60, 60))
        if radio_on == bool(i):
            d.ellipse((x + 4, 164, x + 10, 170), fill="black")
        d.text((x + 22, 157), label, fill="black", font=f)
    d.rectangle((100, 210, 200, 244), fill=(235, 235, 235), outline=(90, 90, 90))
    d.text((122, 217), "Submit", fill="black", font=f)
    return np.asarray(img)


def words_for_form() -> list[Word]:
    """What OCR reports for form_image (hand-written, to test parsing without tesseract)."""
    return [Word("Name", 20, 27, 66, 40, 96), Word("Email", 20, 77, 64, 90, 96),
            Word("Remember", 124, 120, 202, 133, 95), Word("me", 208, 123, 232, 133, 95),
            Word("Small", 122, 160, 166, 173, 95), Word("Large", 242, 160, 286, 173, 95),
            Word("Submit", 122, 220, 178, 233, 96)]


def by_role(elements: list, role: str) -> list:
    return [e for e in elements if e.role == role]


def test_shapes_and_roles_from_given_words() -> None:
    els = parse_screen(form_image(), words_for_form())
    fields = by_role(els, "textbox")
    assert [f.description for f in fields] == ["Name", "Email"]
    (box,) = by_role(els, "checkbox")
    assert box.checked is True and box.text == "Remember me"
    radios = by_role(els, "radio")
    assert [r.text for r in radios] == ["Small", "Large"]
    assert [r.checked for r in radios] == [True, False]
    (button,) = by_role(els, "button")
    assert button.text == "Submit" and button.clickable
    assert [e.id for e in els] == [f"e{i}" for i in range(len(els))]


def test_unchecked_box_and_other_radio() -> None:
    els = parse_screen(form_image(checked=False, radio_on=True), words_for_form())
    assert by_role(els, "checkbox")[0].checked is False
    assert [r.checked for r in by_role(els, "radio")] == [False, True]


def test_field_value_is_read_inside_the_field() -> None:
    words = [*words_for_form(), Word("Ada", 106, 26, 136, 39, 95)]
    els = parse_screen(form_image(value="Ada"), words)
    name = next(e for e in els if e.role == "textbox" and e.description == "Name")
    assert name.text == "Ada"


@needs_tesseract
def test_ocr_reads_the_form() -> None:
    image = form_image(value="Ada Lovelace")
    gray = to_gray(image)
    words = Tesseract().words(gray)
    texts = " ".join(w.text for w in words)
    for expected in ("Name", "Email", "Remember", "Submit", "Lovelace"):
        assert expected in texts
    els = parse_screen(image, words, detect_shapes(gray))
    name = next(e for e in els if e.role == "textbox" and e.description == "Name")
    assert name.text == "Ada Lovelace"


@needs_tesseract
def test_incremental_ocr_rereads_only_what_changed() -> None:
    ocr = IncrementalOcr(Tesseract())
    first = ocr.words(to_gray(form_image()))
    assert ocr.full_reads == 1 and not any(w.text == "Ada" for w in first)
    again = ocr.words(to_gray(form_image()))
    assert again == first and ocr.full_reads == 1 and ocr.partial_reads == 0
    typed = ocr.words(to_gray(form_image(value="Ada")))
    assert ocr.partial_reads == 1 and ocr.full_reads == 1
    assert any(w.text == "Ada" for w in typed)
    assert {w.text for w in first} <= {w.text for w in typed}


def test_parse_tsv_and_group_lines() -> None:
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "5\t1\t1\t1\t1\t1\t10\t10\t30\t12\t95\tI\n"
           "5\t1\t1\t1\t1\t2\t44\t10\t40\t12\t90\tagree\n"
           "5\t1\t1\t1\t1\t3\t300\t11\t40\t12\t91\tCancel\n"
           "5\t1\t1\t1\t1\t4\t10\t60\t40\t12\t12\tnoise\n"
           "4\t1\t1\t1\t1\t0\t10\t10\t330\t12\t-1\t\n")
    words = parse_tsv(tsv, min_conf=30, offset=(5, 0))
    assert [w.text for w in words] == ["I", "agree", "Cancel"]
    assert words[0].left == 15
    lines = group_lines(words)
    assert [ln.text for ln in lines] == ["I agree", "Cancel"]  # a wide gap splits labels on one row
    pipe = group_lines([Word("|", 10, 10, 12, 24, 60), Word("agree", 20, 12, 60, 24, 90)])
    assert pipe[0].text == "I agree"


def test_find_template_and_marks() -> None:
    image = form_image()
    icon = image[210:244, 100:200].copy()
    hits = find_template(image, icon)
    assert len(hits) == 1 and hits[0][0] == (100, 210, 200, 244) and hits[0][1] > 0.99
    els = parse_screen(image, words_for_form())
    marked, marks = draw_marks(image, els)
    assert marked.shape == image.shape and not np.array_equal(marked, image)
    assert marks[1] == els[0].id and len(marks) == len(els)
    assert cv2.absdiff(image, form_image()).max() == 0  # the input is not drawn on
