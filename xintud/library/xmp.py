"""XMP sidecars: the category as a keyword beside the photo; the photo itself is never rewritten.

Sidecar name: ``IMG_0042.jpg.xmp``, not ``IMG_0042.xmp``. digiKam and darktable read the
``<name>.<ext>.xmp`` form; Lightroom and exiftool's default use ``<stem>.xmp``. The stem form
breaks for RAW+JPEG pairs (``IMG_0042.CR2`` and ``IMG_0042.jpg`` would share one sidecar, mixing
two photos' metadata and touching the file Lightroom keeps a RAW's develop settings in); the
full-name form is unambiguous, and exiftool reads it when pointed at it
(``exiftool -tagsfromfile IMG_0042.jpg.xmp``).

What is written (a complete XMP packet: xpacket wrapper, ``x:xmpmeta``, ``rdf:RDF``):

- the category in ``dc:subject`` (an ``rdf:Bag``), which every photo manager reads as a keyword;
- ``xintud|<category>`` in ``lr:hierarchicalSubject``, so tools with keyword trees show it under
  an "xintud" parent;
- one ``rdf:Description`` of our own (namespace `NS_XINTUD`) recording which action wrote the
  sidecar, whether xintud created the file, and exactly which keywords xintud added. Undo reads
  it to take back only what xintud added and to delete the file only when xintud created it.

An existing sidecar is merged, not replaced: it is parsed with xml.etree, our keywords are added
to its bags, and everything else (other properties, namespaces and their prefixes, comments) is
kept. A sidecar that cannot be parsed is refused (XmpError) and left exactly as it is. Every
write goes to a temp file in the same directory, is fsynced, then renamed into place.
"""

from __future__ import annotations

import logging
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from xintud.core.fs import lstat_or_none
from xintud.library.xmp_packet import (
    DC_SUBJECT,
    LR_HIERARCHICAL_SUBJECT,
    NS_XINTUD,
    RDF_ABOUT,
    RDF_BAG,
    RDF_CONTAINERS,
    RDF_DESCRIPTION,
    RDF_LI,
    XINTUD_ACTION,
    XINTUD_ADDED_HIERARCHICAL,
    XINTUD_ADDED_SUBJECT,
    XINTUD_CREATED,
    Packet,
    XmpError,
    check_keyword,
    new_packet,
    parse_packet,
    read_bounded,
    serialize,
)
from xintud.library.xmp_store import (
    MERGE_ATTEMPTS,
    busy_error,
    load_or_new,
    store,
    update,
)

logger = logging.getLogger(__name__)


XMP_SUFFIX = ".xmp"
HIERARCHY_ROOT = "xintud"


RemoveResult = Literal["deleted", "rewritten", "unchanged", "absent"]


@dataclass(frozen=True)
class XintudMark:
    """What xintud put into a sidecar (read back from its own rdf:Description)."""

    action_id: int | None
    created: bool
    subjects: tuple[str, ...]
    hierarchical: tuple[str, ...]


@dataclass(frozen=True)
class SidecarInfo:
    """The keywords found in a sidecar and xintud's mark, if any."""

    path: Path
    subjects: tuple[str, ...]
    hierarchical: tuple[str, ...]
    mark: XintudMark | None


def sidecar_path(photo: Path) -> Path:
    """The sidecar for `photo`: ``IMG_0042.jpg`` → ``IMG_0042.jpg.xmp`` (see module docstring)."""
    photo = Path(photo)
    return photo.with_name(photo.name + XMP_SUFFIX)


def is_sidecar_name(path: Path) -> bool:
    """True for an XMP sidecar's name (``IMG_0042.jpg.xmp``, ``IMG_0042.XMP``)."""
    return Path(path).suffix.lower() == XMP_SUFFIX


def photo_of_sidecar(sidecar: Path) -> Path | None:
    """The photo a sidecar belongs to: ``IMG.jpg.xmp`` → ``IMG.jpg`` (xintud's naming, and
    digiKam's and darktable's); None for a sidecar not named so."""
    photo = Path(sidecar).with_suffix("")
    return photo if photo.suffix else None


def category_keywords(info: SidecarInfo, categories: Iterable[str]) -> set[str]:
    """The categories a sidecar names, as a keyword or as ``xintud|<category>``."""
    subjects, hierarchical = set(info.subjects), set(info.hierarchical)
    return {c for c in categories if c in subjects or hierarchical_keyword(c) in hierarchical}


def hierarchical_keyword(category: str) -> str:
    """The lr:hierarchicalSubject entry for a category: ``xintud|food``."""
    return f"{HIERARCHY_ROOT}|{category}"


def read_sidecar(path: Path) -> SidecarInfo:
    """Read the keywords and xintud's mark from the sidecar at `path`.

    Raises FileNotFoundError when there is none and XmpError when it is not valid XMP.
    """
    path = Path(path)
    packet = parse_packet(read_bounded(path), path)
    return SidecarInfo(
        path=path,
        subjects=tuple(_bag_values(packet.rdf, DC_SUBJECT)),
        hierarchical=tuple(_bag_values(packet.rdf, LR_HIERARCHICAL_SUBJECT)),
        mark=_read_mark(packet.rdf),
    )


def write_sidecar(
    photo: Path,
    keywords: Sequence[str],
    hierarchical: Sequence[str],
    *,
    action_id: int | None = None,
    temp_name: str | None = None,
) -> Path:
    """Add `keywords` (dc:subject) and `hierarchical` (lr:hierarchicalSubject) to the sidecar
    beside `photo`, creating it or merging into the one that is there. Returns the sidecar path.

    `action_id` is recorded in xintud's mark (journal recovery looks for it). `temp_name` names
    the temp file written in the photo's directory before the rename (default: a random dotfile
    name, which the watcher ignores). Nothing is written when everything is already there.
    Raises XmpError for an unreadable existing sidecar, ValueError for a keyword XML cannot hold,
    OSError when the directory cannot be written.
    """
    for value in [*keywords, *hierarchical]:
        check_keyword(value)
    sidecar = sidecar_path(photo)
    temp = sidecar.with_name(temp_name or f".xintud-{secrets.token_hex(6)}.part")
    for _attempt in range(MERGE_ATTEMPTS):
        before = lstat_or_none(sidecar)
        packet = load_or_new(sidecar, before)
        changed = _merge(packet, keywords, hierarchical, action_id, created=before is None)
        if not changed:
            return sidecar
        if store(packet, sidecar, temp, before):
            return sidecar
        logger.info("sidecar %s changed while being updated; merging again", sidecar)
    raise busy_error(sidecar)


def remove_xintud_keywords(
    photo: Path, *, expect_action_id: int | None = None, temp_name: str | None = None
) -> RemoveResult:
    """Take back what xintud added to the sidecar beside `photo` (undo of a tag).

    With xintud's mark present, removes exactly the keywords it lists and the mark itself; the
    file is deleted only when xintud created it and nothing else is left in it. Without a mark
    (another program rewrote the sidecar) only ``xintud|...`` hierarchical keywords and the
    matching plain keywords are removed, and the file is never deleted. Raises XmpError when
    the mark names another action than `expect_action_id` (a later tag: undo that first).
    Returns "deleted", "rewritten", "unchanged" (nothing of ours left) or "absent" (no sidecar).
    """
    sidecar = sidecar_path(photo)
    created = [False]  # what the mark says, read by the edit before the empty file may go

    def take_back(packet: Packet) -> bool:
        mark = _read_mark(packet.rdf)
        _check_expected_mark(sidecar, mark, expect_action_id)
        created[0] = mark is not None and mark.created
        return _unmerge(packet.rdf, mark)

    return update(sidecar, take_back, temp=sidecar.with_name(temp_name) if temp_name else None,
                  create=False, delete_if_empty=lambda: created[0])


def packet_keywords(packet: Packet) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(dc:subject, lr:hierarchicalSubject) of a parsed packet, xintud's mark left out."""
    return (tuple(_bag_values(packet.rdf, DC_SUBJECT)),
            tuple(_bag_values(packet.rdf, LR_HIERARCHICAL_SUBJECT)))


def add_keywords(packet: Packet, subjects: Sequence[str], hierarchical: Sequence[str]) -> bool:
    """Add the keywords missing from the packet's bags, leaving xintud's mark as it is (a
    writer of its own, like the albums', journals what it added); True when anything was."""
    for value in [*subjects, *hierarchical]:
        check_keyword(value)
    description = _content_description(packet.rdf)
    added = _add_values(packet.rdf, DC_SUBJECT, subjects, description)
    return bool(_add_values(packet.rdf, LR_HIERARCHICAL_SUBJECT, hierarchical, description)
                or added)


def remove_keywords(packet: Packet, subjects: Iterable[str], hierarchical: Iterable[str]
                    ) -> bool:
    """Take these keywords out of the packet's bags, the mark left as it is; True when any
    was there."""
    removed = _remove_values(packet.rdf, DC_SUBJECT, set(subjects))
    return _remove_values(packet.rdf, LR_HIERARCHICAL_SUBJECT, set(hierarchical)) or removed


def render_new_packet(keywords: Sequence[str], hierarchical: Sequence[str]) -> bytes:
    """The bytes of a fresh sidecar holding these keywords (no xintud mark)."""
    for value in [*keywords, *hierarchical]:
        check_keyword(value)
    packet = new_packet()
    description = _content_description(packet.rdf)
    _add_values(packet.rdf, DC_SUBJECT, keywords, description)
    _add_values(packet.rdf, LR_HIERARCHICAL_SUBJECT, hierarchical, description)
    return serialize(packet)


# --- reading -------------------------------------------------------------------------------


def _descriptions(rdf: ET.Element) -> list[ET.Element]:
    return [d for d in rdf.findall(RDF_DESCRIPTION) if not _is_mark(d)]


def _is_mark(description: ET.Element) -> bool:
    return any(key.startswith(f"{{{NS_XINTUD}}}") for key in description.attrib) or any(
        isinstance(child.tag, str) and child.tag.startswith(f"{{{NS_XINTUD}}}")
        for child in description
    )


def _mark_descriptions(rdf: ET.Element) -> list[ET.Element]:
    return [d for d in rdf.findall(RDF_DESCRIPTION) if _is_mark(d)]


def _find_property(rdf: ET.Element, tag: str) -> ET.Element | None:
    for description in _descriptions(rdf):
        found = description.find(tag)
        if found is not None:
            return found
    return None


def _container(prop: ET.Element, create: bool) -> ET.Element | None:
    for child in prop:
        if child.tag in RDF_CONTAINERS:
            return child
    if not create:
        return None
    # A property written as plain text (malformed but seen in the wild) becomes a one-item bag.
    text = (prop.text or "").strip()
    prop.text = None
    bag = ET.SubElement(prop, RDF_BAG)
    if text:
        ET.SubElement(bag, RDF_LI).text = text
    return bag


def _items(container: ET.Element | None) -> list[ET.Element]:
    return [] if container is None else container.findall(RDF_LI)


def _bag_values(rdf: ET.Element, tag: str) -> list[str]:
    prop = _find_property(rdf, tag)
    if prop is None:
        return []
    container = _container(prop, create=False)
    if container is None:
        text = (prop.text or "").strip()
        return [text] if text else []
    return [li.text or "" for li in _items(container)]


def _read_mark(rdf: ET.Element) -> XintudMark | None:
    marks = _mark_descriptions(rdf)
    if not marks:
        return None
    mark = marks[0]
    raw_id = mark.get(XINTUD_ACTION)
    action_id = int(raw_id) if raw_id is not None and raw_id.strip().isdigit() else None
    return XintudMark(
        action_id=action_id,
        created=mark.get(XINTUD_CREATED, "False") == "True",
        subjects=tuple(li.text or "" for li in _mark_bag(mark, XINTUD_ADDED_SUBJECT)),
        hierarchical=tuple(li.text or "" for li in _mark_bag(mark, XINTUD_ADDED_HIERARCHICAL)),
    )


def _mark_bag(mark: ET.Element, tag: str) -> list[ET.Element]:
    prop = mark.find(tag)
    return [] if prop is None else _items(_container(prop, create=False))


# --- changing ------------------------------------------------------------------------------


def _about(rdf: ET.Element) -> str:
    # Every rdf:Description in one packet must describe the same resource.
    for description in rdf.findall(RDF_DESCRIPTION):
        about = description.get(RDF_ABOUT)
        if about is not None:
            return about
    return ""


def _content_description(rdf: ET.Element) -> ET.Element:
    """The rdf:Description new properties go into: the first one that is not our mark."""
    descriptions = _descriptions(rdf)
    if descriptions:
        return descriptions[0]
    description = ET.Element(RDF_DESCRIPTION, {RDF_ABOUT: _about(rdf)})
    rdf.insert(0, description)
    return description


def _add_values(
    rdf: ET.Element, tag: str, values: Iterable[str], fallback: ET.Element
) -> tuple[str, ...]:
    """Append the values missing from the bag `tag`; return the ones added."""
    prop = _find_property(rdf, tag)
    if prop is None:
        prop = ET.SubElement(fallback, tag)
    container = _container(prop, create=True)
    assert container is not None
    present = {li.text or "" for li in _items(container)}
    added: list[str] = []
    for value in values:
        if value not in present:
            ET.SubElement(container, RDF_LI).text = value
            present.add(value)
            added.append(value)
    return tuple(added)


def _merge(
    packet: Packet,
    keywords: Sequence[str],
    hierarchical: Sequence[str],
    action_id: int | None,
    created: bool,
) -> bool:
    """Add the keywords and update xintud's mark; False when there was nothing to add."""
    rdf = packet.rdf
    description = _content_description(rdf)
    added_subjects = _add_values(rdf, DC_SUBJECT, keywords, description)
    added_hierarchical = _add_values(rdf, LR_HIERARCHICAL_SUBJECT, hierarchical, description)
    if not added_subjects and not added_hierarchical:
        return False
    old = _read_mark(rdf)
    for mark in _mark_descriptions(rdf):
        rdf.remove(mark)
    rdf.append(
        _mark_element(
            about=_about(rdf),
            action_id=action_id,
            # A later tag keeps "created" from the first: the file is still xintud's own.
            created=old.created if old is not None else created,
            subjects=_union(old.subjects if old else (), added_subjects),
            hierarchical=_union(old.hierarchical if old else (), added_hierarchical),
        )
    )
    return True


def _mark_element(
    about: str,
    action_id: int | None,
    created: bool,
    subjects: Sequence[str],
    hierarchical: Sequence[str],
) -> ET.Element:
    attrib = {RDF_ABOUT: about, XINTUD_CREATED: "True" if created else "False"}
    if action_id is not None:
        attrib[XINTUD_ACTION] = str(action_id)
    mark = ET.Element(RDF_DESCRIPTION, attrib)
    for tag, values in (
        (XINTUD_ADDED_SUBJECT, subjects),
        (XINTUD_ADDED_HIERARCHICAL, hierarchical),
    ):
        bag = ET.SubElement(ET.SubElement(mark, tag), RDF_BAG)
        for value in values:
            ET.SubElement(bag, RDF_LI).text = value
    return mark


def _union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


def _check_expected_mark(
    sidecar: Path, mark: XintudMark | None, expect_action_id: int | None
) -> None:
    if expect_action_id is None or mark is None or mark.action_id in (None, expect_action_id):
        return
    raise XmpError(
        f"sidecar {sidecar} was tagged again by xintud action #{mark.action_id} after action "
        f"#{expect_action_id}; undo #{mark.action_id} first. The sidecar was not changed."
    )


def _unmerge(rdf: ET.Element, mark: XintudMark | None) -> bool:
    """Remove xintud's keywords and mark; True when anything was removed."""
    if mark is not None:
        subjects, hierarchical = set(mark.subjects), set(mark.hierarchical)
    else:
        hierarchical = {
            h
            for h in _bag_values(rdf, LR_HIERARCHICAL_SUBJECT)
            if h.startswith(f"{HIERARCHY_ROOT}|")
        }
        subjects = {h.rsplit("|", 1)[-1] for h in hierarchical}
    changed = _remove_values(rdf, DC_SUBJECT, subjects)
    changed = _remove_values(rdf, LR_HIERARCHICAL_SUBJECT, hierarchical) or changed
    for mark_element in _mark_descriptions(rdf):
        rdf.remove(mark_element)
        changed = True
    return changed


def _remove_values(rdf: ET.Element, tag: str, values: set[str]) -> bool:
    changed = False
    for description in _descriptions(rdf):
        for prop in description.findall(tag):
            container = _container(prop, create=False)
            for li in _items(container):
                if (li.text or "") in values:
                    assert container is not None
                    container.remove(li)
                    changed = True
            if container is not None and not _items(container):
                description.remove(prop)
    return changed
