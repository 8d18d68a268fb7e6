"""XMP sidecars on real files: valid packets, read back, merge with foreign sidecars, undo."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.images import write_jpeg
from xintud.library.xmp import (
    read_sidecar,
    remove_xintud_keywords,
    render_new_packet,
    sidecar_path,
    write_sidecar,
)
from xintud.library.xmp_packet import (
    DC_SUBJECT,
    LR_HIERARCHICAL_SUBJECT,
    NS_DC,
    NS_LR,
    NS_RDF,
    NS_X,
    XmpError,
)

RDF = f"{{{NS_RDF}}}"

DARKTABLE_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <!-- written by darktable -->
  <rdf:Description rdf:about=""
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    darktable:xmp_version="5" darktable:raw_params="0">
   <dc:subject><rdf:Bag><rdf:li>holiday &amp; beach</rdf:li><rdf:li>grandma</rdf:li></rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>people|grandma</rdf:li></rdf:Bag>
   </lr:hierarchicalSubject>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Tom &lt;3 sea</rdf:li></rdf:Alt></dc:title>
   <darktable:history><rdf:Seq><rdf:li darktable:operation="exposure"/></rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return write_jpeg(tmp_path / "IMG_0042.jpg", size=(64, 48))


def bag(root: ET.Element, prop: str) -> list[str]:
    """The rdf:li texts of a bag property anywhere in the packet."""
    found = root.find(f".//{prop}/{RDF}Bag")
    assert found is not None, f"no {prop} bag"
    return [li.text or "" for li in found.findall(f"{RDF}li")]


def test_sidecar_name_keeps_the_extension_so_raw_and_jpeg_do_not_share_one() -> None:
    assert sidecar_path(Path("/p/IMG_0042.jpg")) == Path("/p/IMG_0042.jpg.xmp")
    assert sidecar_path(Path("/p/IMG_0042.CR2")) != sidecar_path(Path("/p/IMG_0042.jpg"))


def test_new_sidecar_is_a_valid_xmp_packet_with_the_keyword(photo: Path) -> None:
    before = photo.read_bytes()
    sidecar = write_sidecar(photo, ["food"], ["xintud|food"], action_id=7)

    assert sidecar == photo.with_name("IMG_0042.jpg.xmp")
    data = sidecar.read_bytes()
    assert data.startswith(b"<?xpacket begin=")
    assert data.rstrip().endswith(b'<?xpacket end="w"?>')
    root = ET.fromstring(data)
    assert root.tag == f"{{{NS_X}}}xmpmeta"
    assert root.find(f"{RDF}RDF/{RDF}Description") is not None
    assert bag(root, f"{{{NS_DC}}}subject") == ["food"]
    assert bag(root, f"{{{NS_LR}}}hierarchicalSubject") == ["xintud|food"]
    assert photo.read_bytes() == before, "the photo itself must never be rewritten"
    assert sorted(p.name for p in photo.parent.iterdir()) == ["IMG_0042.jpg", "IMG_0042.jpg.xmp"]


def test_read_sidecar_returns_keywords_and_mark(photo: Path) -> None:
    write_sidecar(photo, ["food"], ["xintud|food"], action_id=7)
    info = read_sidecar(sidecar_path(photo))
    assert info.subjects == ("food",)
    assert info.hierarchical == ("xintud|food",)
    assert info.mark is not None
    assert info.mark.action_id == 7
    assert info.mark.created is True


@pytest.mark.parametrize("keyword", ["a<b>&\"c'd", "美食记录", "tab\there", "line\nbreak"])
def test_special_characters_are_escaped_and_read_back(photo: Path, keyword: str) -> None:
    write_sidecar(photo, [keyword], [f"xintud|{keyword}"])
    root = ET.parse(sidecar_path(photo)).getroot()
    assert bag(root, DC_SUBJECT) == [keyword]
    assert read_sidecar(sidecar_path(photo)).hierarchical == (f"xintud|{keyword}",)


@settings(max_examples=40, deadline=None)
@given(
    keyword=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
        min_size=1,
        max_size=20,
    )
)
def test_any_printable_keyword_round_trips(keyword: str) -> None:
    root = ET.fromstring(render_new_packet([keyword], [f"xintud|{keyword}"]))
    assert bag(root, DC_SUBJECT) == [keyword]
    assert bag(root, LR_HIERARCHICAL_SUBJECT) == [f"xintud|{keyword}"]


def test_keyword_xml_cannot_hold_is_refused_and_nothing_written(photo: Path) -> None:
    with pytest.raises(ValueError, match="U\\+0001"):
        write_sidecar(photo, ["bad\x01"], [])
    assert not sidecar_path(photo).exists()


def test_merge_keeps_foreign_keywords_properties_prefixes_and_comments(photo: Path) -> None:
    sidecar = sidecar_path(photo)
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")

    write_sidecar(photo, ["food"], ["xintud|food"], action_id=3)

    text = sidecar.read_text(encoding="utf-8")
    root = ET.fromstring(text.encode("utf-8"))
    assert bag(root, DC_SUBJECT) == ["holiday & beach", "grandma", "food"]
    assert bag(root, LR_HIERARCHICAL_SUBJECT) == ["people|grandma", "xintud|food"]
    assert "written by darktable" in text
    assert 'darktable:xmp_version="5"' in text, "foreign prefixes and attributes are kept"
    assert 'darktable:operation="exposure"' in text
    title = root.find(f".//{{{NS_DC}}}title/{RDF}Alt/{RDF}li")
    assert title is not None and title.text == "Tom <3 sea"
    assert title.get("{http://www.w3.org/XML/1998/namespace}lang") == "x-default"
    info = read_sidecar(sidecar)
    assert info.mark is not None and info.mark.created is False
    assert info.mark.subjects == ("food",)


def test_writing_the_same_keyword_twice_changes_nothing(photo: Path) -> None:
    sidecar = write_sidecar(photo, ["food"], ["xintud|food"], action_id=1)
    first = sidecar.read_bytes()
    inode = sidecar.stat().st_ino
    write_sidecar(photo, ["food"], ["xintud|food"], action_id=2)
    assert sidecar.read_bytes() == first
    assert sidecar.stat().st_ino == inode
    assert read_sidecar(sidecar).subjects == ("food",)


def test_merge_into_a_bare_rdf_root_and_a_seq_subject(photo: Path) -> None:
    sidecar = sidecar_path(photo)
    sidecar.write_text(
        f'<rdf:RDF xmlns:rdf="{NS_RDF}" xmlns:dc="{NS_DC}"><rdf:Description rdf:about="">'
        "<dc:subject><rdf:Seq><rdf:li>mine</rdf:li></rdf:Seq></dc:subject>"
        "</rdf:Description></rdf:RDF>",
        encoding="utf-8",
    )
    write_sidecar(photo, ["pets"], ["xintud|pets"])
    info = read_sidecar(sidecar)
    assert info.subjects == ("mine", "pets")
    assert info.hierarchical == ("xintud|pets",)


def test_existing_sidecar_mode_is_kept(photo: Path) -> None:
    sidecar = sidecar_path(photo)
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    sidecar.chmod(0o640)
    write_sidecar(photo, ["food"], ["xintud|food"])
    assert sidecar.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    "content",
    [b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><unclosed>", b"\x00\x01 not xml", b"<html></html>"],
    ids=["truncated", "binary", "not-xmp"],
)
def test_unreadable_sidecar_is_refused_and_left_byte_for_byte(photo: Path, content: bytes) -> None:
    sidecar = sidecar_path(photo)
    sidecar.write_bytes(content)
    with pytest.raises(XmpError, match=str(sidecar)):
        write_sidecar(photo, ["food"], ["xintud|food"])
    assert sidecar.read_bytes() == content
    assert sorted(p.name for p in photo.parent.iterdir()) == ["IMG_0042.jpg", "IMG_0042.jpg.xmp"]


def test_symlinked_sidecar_is_not_written_through(photo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.xmp"
    elsewhere.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    sidecar_path(photo).symlink_to(elsewhere)
    with pytest.raises(XmpError, match="not a regular file"):
        write_sidecar(photo, ["food"], ["xintud|food"])
    assert elsewhere.read_text(encoding="utf-8") == DARKTABLE_SIDECAR


def test_remove_deletes_a_sidecar_xintud_created(photo: Path) -> None:
    write_sidecar(photo, ["food"], ["xintud|food"], action_id=4)
    assert remove_xintud_keywords(photo, expect_action_id=4) == "deleted"
    assert not sidecar_path(photo).exists()
    assert remove_xintud_keywords(photo, expect_action_id=4) == "absent"


def test_remove_from_a_merged_sidecar_keeps_everything_foreign(photo: Path) -> None:
    sidecar = sidecar_path(photo)
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    write_sidecar(photo, ["food"], ["xintud|food"], action_id=4)

    assert remove_xintud_keywords(photo, expect_action_id=4) == "rewritten"

    info = read_sidecar(sidecar)
    assert info.subjects == ("holiday & beach", "grandma")
    assert info.hierarchical == ("people|grandma",)
    assert info.mark is None
    text = sidecar.read_text(encoding="utf-8")
    assert "written by darktable" in text and 'darktable:operation="exposure"' in text


def test_remove_keeps_a_keyword_the_user_had_already(photo: Path) -> None:
    sidecar = sidecar_path(photo)
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    write_sidecar(photo, ["grandma", "food"], ["xintud|food"], action_id=5)
    remove_xintud_keywords(photo, expect_action_id=5)
    assert read_sidecar(sidecar).subjects == ("holiday & beach", "grandma")


def test_remove_refuses_when_a_later_action_retagged(photo: Path) -> None:
    write_sidecar(photo, ["food"], ["xintud|food"], action_id=4)
    write_sidecar(photo, ["travel"], ["xintud|travel"], action_id=9)
    before = sidecar_path(photo).read_bytes()
    with pytest.raises(XmpError, match="#9"):
        remove_xintud_keywords(photo, expect_action_id=4)
    assert sidecar_path(photo).read_bytes() == before


def test_remove_without_mark_takes_only_xintud_keywords_and_keeps_the_file(photo: Path) -> None:
    # As if another program rewrote the sidecar and dropped xintud's own rdf:Description.
    sidecar = sidecar_path(photo)
    sidecar.write_bytes(render_new_packet(["food", "mine"], ["xintud|food", "people|me"]))
    assert remove_xintud_keywords(photo) == "rewritten"
    info = read_sidecar(sidecar)
    assert info.subjects == ("mine",)
    assert info.hierarchical == ("people|me",)


def test_no_temp_files_are_left_behind(photo: Path) -> None:
    sidecar_path(photo).write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    write_sidecar(photo, ["food"], ["xintud|food"], temp_name=".xintud-1.part")
    remove_xintud_keywords(photo, temp_name=".xintud-1.undo.part")
    assert not [p for p in os.listdir(photo.parent) if p.startswith(".")]
