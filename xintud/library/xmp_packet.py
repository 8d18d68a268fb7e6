"""The XMP packet as XML: namespaces, parsing a sidecar, and writing it back byte-faithfully.

Parsing keeps everything a sidecar holds — other properties, comments, and the file's own
namespace prefixes — so that xmp.py can merge xintud's keywords into it and write the rest
back unchanged. xml.etree does the parsing; the writer is ours because ElementTree would rename
every prefix to ns0, ns1... which other programs' sidecars must not suffer.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from xintud import __version__


class XmpError(Exception):
    """A sidecar could not be read or updated; the message names the file, cause and fix."""


NS_X = "adobe:ns:meta/"


NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


NS_DC = "http://purl.org/dc/elements/1.1/"


NS_LR = "http://ns.adobe.com/lightroom/1.0/"


NS_XMP = "http://ns.adobe.com/xap/1.0/"  # xmp:Rating


# Our own properties. ".invalid" is reserved (RFC 2606), so this URI can never clash with a
# namespace somebody else defines.
NS_XINTUD = "http://ns.xintud.invalid/xmp/1.0/"


_NS_XML = "http://www.w3.org/XML/1998/namespace"


_PREFERRED_PREFIXES: dict[str, str] = {
    NS_X: "x",
    NS_RDF: "rdf",
    NS_DC: "dc",
    NS_LR: "lr",
    NS_XMP: "xmp",
    NS_XINTUD: "xintud",
}


MAX_SIDECAR_BYTES = 16 << 20  # real sidecars are a few KiB; refuse to parse anything absurd


_PACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"  # the fixed id every XMP packet wrapper carries


X_XMPMETA = f"{{{NS_X}}}xmpmeta"


_X_XMPTK = f"{{{NS_X}}}xmptk"


RDF_RDF = f"{{{NS_RDF}}}RDF"


RDF_DESCRIPTION = f"{{{NS_RDF}}}Description"


RDF_ABOUT = f"{{{NS_RDF}}}about"


RDF_LI = f"{{{NS_RDF}}}li"


RDF_BAG = f"{{{NS_RDF}}}Bag"


RDF_CONTAINERS = (RDF_BAG, f"{{{NS_RDF}}}Seq", f"{{{NS_RDF}}}Alt")


DC_SUBJECT = f"{{{NS_DC}}}subject"


LR_HIERARCHICAL_SUBJECT = f"{{{NS_LR}}}hierarchicalSubject"


XINTUD_ACTION = f"{{{NS_XINTUD}}}action"


XINTUD_CREATED = f"{{{NS_XINTUD}}}created"


XINTUD_ADDED_SUBJECT = f"{{{NS_XINTUD}}}addedSubject"


XINTUD_ADDED_HIERARCHICAL = f"{{{NS_XINTUD}}}addedHierarchicalSubject"


@dataclass
class Packet:
    """A parsed sidecar: the root element, the rdf:RDF element, and the file's own prefixes."""

    root: ET.Element
    rdf: ET.Element
    prefixes: dict[str, str]


def read_bounded(path: Path) -> bytes:
    """The bytes of a sidecar, refusing one too large to be real."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_SIDECAR_BYTES + 1)
    if len(data) > MAX_SIDECAR_BYTES:
        raise XmpError(
            f"sidecar {path} is larger than {MAX_SIDECAR_BYTES >> 20} MiB, which no real XMP "
            "sidecar is; xintud leaves it alone. Check what wrote it, or move it away."
        )
    return data


def parse_packet(data: bytes, origin: Path) -> Packet:
    """Parse a sidecar's bytes; XmpError (naming `origin`) when it is not XMP."""
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
    if root.tag == X_XMPMETA:
        rdf = root.find(RDF_RDF)
    elif root.tag == RDF_RDF:
        rdf = root
    else:
        rdf = None
    if rdf is None:
        raise XmpError(
            f"sidecar {origin} is XML but not XMP (no x:xmpmeta/rdf:RDF, root is {root.tag!r}); "
            "xintud did not change it. Move it away if it is not a metadata sidecar."
        )
    return Packet(root=root, rdf=rdf, prefixes=prefixes)


def _declared_prefixes(data: bytes) -> dict[str, str]:
    """uri → prefix as the file declares them, so a merged file keeps its own prefixes."""
    prefixes: dict[str, str] = {}
    for _event, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
        if prefix and uri not in prefixes:
            prefixes[uri] = prefix
    return prefixes


def new_packet() -> Packet:
    """An empty XMP packet, as xintud writes a new sidecar."""
    root = ET.Element(X_XMPMETA, {_X_XMPTK: f"xintud {__version__}"})
    rdf = ET.SubElement(root, RDF_RDF)
    return Packet(root=root, rdf=rdf, prefixes={})


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


def serialize(packet: Packet) -> bytes:
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
