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

import contextlib
import errno
import io
import logging
import os
import secrets
import stat
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from xintud import __version__
from xintud.durable import fsync_dir

logger = logging.getLogger(__name__)

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
# Our own properties. ".invalid" is reserved (RFC 2606), so this URI can never clash with a
# namespace somebody else defines.
NS_XINTUD = "http://ns.xintud.invalid/xmp/1.0/"
_NS_XML = "http://www.w3.org/XML/1998/namespace"

_PREFERRED_PREFIXES: dict[str, str] = {
    NS_X: "x",
    NS_RDF: "rdf",
    NS_DC: "dc",
    NS_LR: "lr",
    NS_XINTUD: "xintud",
}

XMP_SUFFIX = ".xmp"
HIERARCHY_ROOT = "xintud"
MAX_SIDECAR_BYTES = 16 << 20  # real sidecars are a few KiB; refuse to parse anything absurd
_MERGE_ATTEMPTS = 3
_PACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"  # the fixed id every XMP packet wrapper carries

_X_XMPMETA = f"{{{NS_X}}}xmpmeta"
_X_XMPTK = f"{{{NS_X}}}xmptk"
_RDF_RDF = f"{{{NS_RDF}}}RDF"
_RDF_DESCRIPTION = f"{{{NS_RDF}}}Description"
_RDF_ABOUT = f"{{{NS_RDF}}}about"
_RDF_LI = f"{{{NS_RDF}}}li"
_RDF_BAG = f"{{{NS_RDF}}}Bag"
_RDF_CONTAINERS = (_RDF_BAG, f"{{{NS_RDF}}}Seq", f"{{{NS_RDF}}}Alt")
DC_SUBJECT = f"{{{NS_DC}}}subject"
LR_HIERARCHICAL_SUBJECT = f"{{{NS_LR}}}hierarchicalSubject"
_XINTUD_ACTION = f"{{{NS_XINTUD}}}action"
_XINTUD_CREATED = f"{{{NS_XINTUD}}}created"
_XINTUD_ADDED_SUBJECT = f"{{{NS_XINTUD}}}addedSubject"
_XINTUD_ADDED_HIERARCHICAL = f"{{{NS_XINTUD}}}addedHierarchicalSubject"

RemoveResult = Literal["deleted", "rewritten", "unchanged", "absent"]


class XmpError(Exception):
    """A sidecar could not be read or updated; the message names the file, cause and fix."""


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


@dataclass
class _Packet:
    """A parsed sidecar: the root element, the rdf:RDF element, and the file's own prefixes."""

    root: ET.Element
    rdf: ET.Element
    prefixes: dict[str, str]


def sidecar_path(photo: Path) -> Path:
    """The sidecar for `photo`: ``IMG_0042.jpg`` → ``IMG_0042.jpg.xmp`` (see module docstring)."""
    photo = Path(photo)
    return photo.with_name(photo.name + XMP_SUFFIX)


def hierarchical_keyword(category: str) -> str:
    """The lr:hierarchicalSubject entry for a category: ``xintud|food``."""
    return f"{HIERARCHY_ROOT}|{category}"


def read_sidecar(path: Path) -> SidecarInfo:
    """Read the keywords and xintud's mark from the sidecar at `path`.

    Raises FileNotFoundError when there is none and XmpError when it is not valid XMP.
    """
    path = Path(path)
    packet = _parse_packet(_read_bounded(path), path)
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
    for _attempt in range(_MERGE_ATTEMPTS):
        before = _lstat_or_none(sidecar)
        packet = _load_or_new(sidecar, before)
        changed = _merge(packet, keywords, hierarchical, action_id, created=before is None)
        if not changed:
            return sidecar
        if _store(packet, sidecar, temp, before):
            return sidecar
        logger.info("sidecar %s changed while being updated; merging again", sidecar)
    raise _busy_error(sidecar)


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
    temp = sidecar.with_name(temp_name or f".xintud-{secrets.token_hex(6)}.part")
    for _attempt in range(_MERGE_ATTEMPTS):
        before = _lstat_or_none(sidecar)
        if before is None:
            return "absent"
        packet = _load_or_new(sidecar, before)
        mark = _read_mark(packet.rdf)
        _check_expected_mark(sidecar, mark, expect_action_id)
        changed = _unmerge(packet.rdf, mark)
        if not changed:
            return "unchanged"
        if mark is not None and mark.created and _is_empty(packet):
            if not _same_file_state(sidecar, before):
                continue
            os.unlink(sidecar)
            fsync_dir(sidecar.parent)
            return "deleted"
        if _store(packet, sidecar, temp, before):
            return "rewritten"
    raise _busy_error(sidecar)


def render_new_packet(keywords: Sequence[str], hierarchical: Sequence[str]) -> bytes:
    """The bytes of a fresh sidecar holding these keywords (no xintud mark)."""
    for value in [*keywords, *hierarchical]:
        check_keyword(value)
    packet = _new_packet()
    description = _content_description(packet.rdf)
    _add_values(packet.rdf, DC_SUBJECT, keywords, description)
    _add_values(packet.rdf, LR_HIERARCHICAL_SUBJECT, hierarchical, description)
    return _serialize(packet)


# --- reading -------------------------------------------------------------------------------


def _read_bounded(path: Path) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(MAX_SIDECAR_BYTES + 1)
    if len(data) > MAX_SIDECAR_BYTES:
        raise XmpError(
            f"sidecar {path} is larger than {MAX_SIDECAR_BYTES >> 20} MiB, which no real XMP "
            "sidecar is; xintud leaves it alone. Check what wrote it, or move it away."
        )
    return data


def _parse_packet(data: bytes, origin: Path) -> _Packet:
    try:
        prefixes = _declared_prefixes(data)
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        parser.feed(data)
        root = parser.close()
    except (ET.ParseError, RecursionError, ValueError) as exc:
        raise XmpError(
            f"sidecar {origin} is not well-formed XML ({exc}); xintud did not change it. "
            "Repair it with your photo manager or move it away, then tag again."
        ) from exc
    if root.tag == _X_XMPMETA:
        rdf = root.find(_RDF_RDF)
    elif root.tag == _RDF_RDF:
        rdf = root
    else:
        rdf = None
    if rdf is None:
        raise XmpError(
            f"sidecar {origin} is XML but not XMP (no x:xmpmeta/rdf:RDF, root is {root.tag!r}); "
            "xintud did not change it. Move it away if it is not a metadata sidecar."
        )
    return _Packet(root=root, rdf=rdf, prefixes=prefixes)


def _declared_prefixes(data: bytes) -> dict[str, str]:
    """uri → prefix as the file declares them, so a merged file keeps its own prefixes."""
    prefixes: dict[str, str] = {}
    for _event, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
        if prefix and uri not in prefixes:
            prefixes[uri] = prefix
    return prefixes


def _descriptions(rdf: ET.Element) -> list[ET.Element]:
    return [d for d in rdf.findall(_RDF_DESCRIPTION) if not _is_mark(d)]


def _is_mark(description: ET.Element) -> bool:
    return any(key.startswith(f"{{{NS_XINTUD}}}") for key in description.attrib) or any(
        isinstance(child.tag, str) and child.tag.startswith(f"{{{NS_XINTUD}}}")
        for child in description
    )


def _mark_descriptions(rdf: ET.Element) -> list[ET.Element]:
    return [d for d in rdf.findall(_RDF_DESCRIPTION) if _is_mark(d)]


def _find_property(rdf: ET.Element, tag: str) -> ET.Element | None:
    for description in _descriptions(rdf):
        found = description.find(tag)
        if found is not None:
            return found
    return None


def _container(prop: ET.Element, create: bool) -> ET.Element | None:
    for child in prop:
        if child.tag in _RDF_CONTAINERS:
            return child
    if not create:
        return None
    # A property written as plain text (malformed but seen in the wild) becomes a one-item bag.
    text = (prop.text or "").strip()
    prop.text = None
    bag = ET.SubElement(prop, _RDF_BAG)
    if text:
        ET.SubElement(bag, _RDF_LI).text = text
    return bag


def _items(container: ET.Element | None) -> list[ET.Element]:
    return [] if container is None else container.findall(_RDF_LI)


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
    raw_id = mark.get(_XINTUD_ACTION)
    action_id = int(raw_id) if raw_id is not None and raw_id.strip().isdigit() else None
    return XintudMark(
        action_id=action_id,
        created=mark.get(_XINTUD_CREATED, "False") == "True",
        subjects=tuple(li.text or "" for li in _mark_bag(mark, _XINTUD_ADDED_SUBJECT)),
        hierarchical=tuple(li.text or "" for li in _mark_bag(mark, _XINTUD_ADDED_HIERARCHICAL)),
    )


def _mark_bag(mark: ET.Element, tag: str) -> list[ET.Element]:
    prop = mark.find(tag)
    return [] if prop is None else _items(_container(prop, create=False))


# --- changing ------------------------------------------------------------------------------


def _new_packet() -> _Packet:
    root = ET.Element(_X_XMPMETA, {_X_XMPTK: f"xintud {__version__}"})
    rdf = ET.SubElement(root, _RDF_RDF)
    return _Packet(root=root, rdf=rdf, prefixes={})


def _load_or_new(sidecar: Path, before: os.stat_result | None) -> _Packet:
    if before is None:
        return _new_packet()
    if not stat.S_ISREG(before.st_mode):
        raise XmpError(
            f"sidecar {sidecar} is not a regular file (a symlink or directory?); xintud will "
            "not write through it. Replace it with a plain file or remove it, then tag again."
        )
    return _parse_packet(_read_bounded(sidecar), sidecar)


def _about(rdf: ET.Element) -> str:
    # Every rdf:Description in one packet must describe the same resource.
    for description in rdf.findall(_RDF_DESCRIPTION):
        about = description.get(_RDF_ABOUT)
        if about is not None:
            return about
    return ""


def _content_description(rdf: ET.Element) -> ET.Element:
    """The rdf:Description new properties go into: the first one that is not our mark."""
    descriptions = _descriptions(rdf)
    if descriptions:
        return descriptions[0]
    description = ET.Element(_RDF_DESCRIPTION, {_RDF_ABOUT: _about(rdf)})
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
            ET.SubElement(container, _RDF_LI).text = value
            present.add(value)
            added.append(value)
    return tuple(added)


def _merge(
    packet: _Packet,
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
    attrib = {_RDF_ABOUT: about, _XINTUD_CREATED: "True" if created else "False"}
    if action_id is not None:
        attrib[_XINTUD_ACTION] = str(action_id)
    mark = ET.Element(_RDF_DESCRIPTION, attrib)
    for tag, values in (
        (_XINTUD_ADDED_SUBJECT, subjects),
        (_XINTUD_ADDED_HIERARCHICAL, hierarchical),
    ):
        bag = ET.SubElement(ET.SubElement(mark, tag), _RDF_BAG)
        for value in values:
            ET.SubElement(bag, _RDF_LI).text = value
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


def _is_empty(packet: _Packet) -> bool:
    """True when the packet holds no property at all (only empty rdf:Descriptions)."""
    if packet.root is not packet.rdf and any(c is not packet.rdf for c in packet.root):
        return False
    for child in packet.rdf:
        if child.tag != _RDF_DESCRIPTION:
            return False
        if set(child.attrib) - {_RDF_ABOUT} or any(isinstance(c.tag, str) for c in child):
            return False
    return True


def check_keyword(value: str) -> None:
    """Raise ValueError for a string XML 1.0 cannot carry (control characters, lone surrogates)."""
    for char in value:
        code = ord(char)
        allowed = (
            code in (0x9, 0xA, 0xD)
            or 0x20 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF
        )
        if not allowed:
            raise ValueError(f"keyword {value!r} holds character U+{code:04X}, which XML forbids")


# --- writing -------------------------------------------------------------------------------


def _serialize(packet: _Packet) -> bytes:
    """The packet as UTF-8 bytes inside the xpacket wrapper, keeping the file's prefixes."""
    root = packet.root
    ET.indent(root, space=" ")
    prefixes = _assign_prefixes(root, packet.prefixes)
    out: list[str] = [f'<?xpacket begin="\ufeff" id="{_PACKET_ID}"?>\n']
    _write_element(root, prefixes, out, declare=True)
    out.append('\n<?xpacket end="w"?>\n')
    return "".join(out).encode("utf-8")


def _namespace_of(name: str) -> str | None:
    return name[1:].split("}", 1)[0] if name.startswith("{") else None


def _assign_prefixes(root: ET.Element, declared: dict[str, str]) -> dict[str, str]:
    uris: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name in (element.tag, *element.attrib):
            uri = _namespace_of(name)
            if uri is not None and uri != _NS_XML and uri not in uris:
                uris.append(uri)
    assigned: dict[str, str] = {}
    used: set[str] = {"xml", "xmlns"}
    for uri in uris:
        prefix = declared.get(uri) or _PREFERRED_PREFIXES.get(uri) or "ns"
        candidate, n = prefix, 1
        while candidate in used:
            candidate, n = f"{prefix}{n}", n + 1
        assigned[uri] = candidate
        used.add(candidate)
    return assigned


def _qualified(name: str, prefixes: dict[str, str]) -> str:
    uri = _namespace_of(name)
    if uri is None:
        return name
    local = name.split("}", 1)[1]
    return f"xml:{local}" if uri == _NS_XML else f"{prefixes[uri]}:{local}"


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    return (
        _escape_text(text)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _write_element(
    element: ET.Element, prefixes: dict[str, str], out: list[str], declare: bool = False
) -> None:
    if element.tag is ET.Comment:
        # "--" may not appear inside a comment; a parsed comment never holds it, keep it safe.
        out.append(f"<!--{(element.text or '').replace('--', '- -')}-->")
    else:
        name = _qualified(element.tag, prefixes)
        attributes = [
            f'{_qualified(k, prefixes)}="{_escape_attribute(v)}"' for k, v in element.attrib.items()
        ]
        if declare:
            attributes = [
                *(f'xmlns:{p}="{_escape_attribute(uri)}"' for uri, p in prefixes.items()),
                *attributes,
            ]
        opening = " ".join([name, *attributes])
        if len(element) == 0 and not element.text:
            out.append(f"<{opening}/>")
        else:
            out.append(f"<{opening}>{_escape_text(element.text or '')}")
            for child in element:
                _write_element(child, prefixes, out)
            out.append(f"</{name}>")
    out.append(_escape_text(element.tail or ""))


def _store(packet: _Packet, sidecar: Path, temp: Path, before: os.stat_result | None) -> bool:
    """Write the packet to `temp`, fsync, then put it at `sidecar` without clobbering a
    concurrent writer. False when the sidecar changed meanwhile (the caller merges again)."""
    payload = _serialize(packet)
    mode = stat.S_IMODE(before.st_mode) if before is not None else None
    _write_new_file(temp, payload, mode)
    try:
        if before is None:
            placed = _place_new(temp, sidecar)
        elif _same_file_state(sidecar, before):
            os.replace(temp, sidecar)  # replaces only the sidecar we just read and merged
            placed = True
        else:
            placed = False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    if placed:
        fsync_dir(sidecar.parent)
    return placed


def _place_new(temp: Path, sidecar: Path) -> bool:
    """Give `temp` the name `sidecar` unless that name appeared meanwhile (then False)."""
    try:
        # link() fails with EEXIST instead of replacing, so a sidecar another program created
        # since we looked is never clobbered; the temp name is unlinked by the caller.
        os.link(temp, sidecar)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    # No hard links here (FAT/exFAT, some network shares): check-then-rename. The window is
    # microseconds and the file at stake is a sidecar, never a photo.
    if os.path.lexists(sidecar):
        return False
    os.replace(temp, sidecar)
    return True


def _write_new_file(path: Path, payload: bytes, mode: int | None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    os.close(fd)


def _lstat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _same_file_state(path: Path, before: os.stat_result) -> bool:
    now = _lstat_or_none(path)
    return now is not None and (now.st_ino, now.st_size, now.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


def _busy_error(sidecar: Path) -> XmpError:
    return XmpError(
        f"sidecar {sidecar} kept changing while xintud tried to update it "
        f"({_MERGE_ATTEMPTS} attempts): another program is writing it. Close that program "
        "(or wait for it) and tag again."
    )
