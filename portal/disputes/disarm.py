"""Evidence disarm (content disarm and reconstruction): every file is parsed
with a real parser and rebuilt, and what is kept is the rebuilt file, never
the bytes received. Officers and furnishers open these files; a file judged
by its first bytes alone could carry a script, a polyglot or a bomb.

- PDFs are opened with pikepdf (qpdf) and written anew: JavaScript,
  actions run on opening or automatically (OpenAction, AA), launch and
  submit actions, embedded files, XFA forms and rich-media annotations are
  removed; anything outside the PDF's objects (bytes before its header or
  after its end, as in a PDF+HTML polyglot) does not survive the rewrite.
  Encrypted (password-protected) PDFs are refused: they cannot be checked.
- Images are decoded in full by Pillow (at most MAX_PIXELS, so a
  decompression bomb is refused before it is decoded) and encoded again in
  their format: EXIF, text chunks and whatever follows the image data are
  dropped; the orientation the camera recorded is applied first, so the
  picture still stands the right way up.

`rebuild` returns the new bytes and the names of what was removed, for the
subject; a file that cannot be rebuilt is refused with a message saying why,
and nothing of it is stored."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import pikepdf
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.i18n import N_, Refusal

MAX_PIXELS = 40_000_000  # a 40-megapixel photograph or scan; a page at 600 dpi is 35

# Keys of any PDF dictionary that make a document act on its own, and what
# the subject is told was removed.
_ACTIVE_KEYS = {
    "/OpenAction": N_("an action run on opening"),
    "/AA": N_("automatic actions"),
    "/JS": N_("JavaScript"),
    "/JavaScript": N_("JavaScript"),
    "/EmbeddedFiles": N_("embedded files"),
    "/XFA": N_("an XFA form"),
    "/AF": N_("embedded files"),  # associated files (PDF 2.0)
    "/EF": N_("embedded files"),  # the file inside a file specification
}
# Actions that run code, open other files or send data.
_ACTIVE_ACTIONS = {
    "/JavaScript": N_("JavaScript"),
    "/Launch": N_("an action that launches programs"),
    "/SubmitForm": N_("an action that sends data"),
    "/ImportData": N_("an action that imports data"),
    "/GoToR": N_("a link into another file"),
    "/GoToE": N_("a link into an embedded file"),
    "/RichMediaExecute": N_("rich media"),
}
_SAFE_URI = re.compile(r"(?i)\s*(https?:|mailto:)")  # links to the web or to mail; no javascript:, file:
_ACTIVE_ANNOTATIONS = {
    "/RichMedia": N_("rich media"),
    "/FileAttachment": N_("embedded files"),
    "/Movie": N_("rich media"),
    "/Sound": N_("rich media"),
    "/Screen": N_("rich media"),
    "/3D": N_("rich media"),
}


class CannotRebuild(Refusal):
    """The file cannot be parsed and rebuilt; the message says why."""


@dataclass(frozen=True)
class Rebuilt:
    data: bytes
    removed: tuple[str, ...]  # messages marked with N_, translated where shown


def rebuild(data: bytes, media_type: str, name: str) -> Rebuilt:
    """The file parsed and written anew (see the module's note)."""
    if media_type == "application/pdf":
        return _pdf(data, name)
    return _image(data, media_type, name)


# -- PDF ----------------------------------------------------------------------------
def _pdf(data: bytes, name: str) -> Rebuilt:
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise CannotRebuild(_PROTECTED, name=name) from None
    except pikepdf.PdfError:
        raise CannotRebuild(N_("%(name)s could not be read as a PDF; it may be damaged."), name=name) from None
    with pdf:
        if pdf.is_encrypted:
            raise CannotRebuild(_PROTECTED, name=name)
        removed: set[str] = set()
        _walk(pdf.trailer, removed)  # a catalog may be written in the trailer itself
        for obj in pdf.objects:  # every indirect object, and the direct ones inside each
            _walk(obj, removed)
        for page in pdf.pages:
            annots = page.obj.get("/Annots")
            if isinstance(annots, pikepdf.Array):
                kept = [a for a in annots if not _active_annotation(a, removed)]
                if len(kept) != len(annots):
                    page.obj["/Annots"] = pikepdf.Array(kept)
        out = io.BytesIO()
        try:
            pdf.save(out, deterministic_id=True)
        except pikepdf.PdfError:
            raise CannotRebuild(N_("%(name)s could not be read as a PDF; it may be damaged."), name=name) from None
    return Rebuilt(out.getvalue(), tuple(sorted(removed)))


_PROTECTED = N_("%(name)s is protected by a password; send a copy without one.")


def _walk(obj: pikepdf.Object, removed: set[str]) -> None:
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        _disarm(obj, removed)
        children = [obj[k] for k in obj.keys()]  # noqa: SIM118 - a pikepdf dictionary, not a dict
    elif isinstance(obj, pikepdf.Array):
        children = list(obj)
    else:
        return
    for child in children:
        if isinstance(child, pikepdf.Object) and not child.is_indirect:  # indirect ones: visited on their own
            _walk(child, removed)


def _disarm(obj: pikepdf.Object, removed: set[str]) -> None:
    opening = obj.get("/OpenAction")
    if isinstance(opening, pikepdf.Array):  # only where to open (a page and a zoom): harmless, kept
        del obj["/OpenAction"]
    for key, what in _ACTIVE_KEYS.items():
        if key in obj:
            del obj[key]
            removed.add(what)
    if isinstance(opening, pikepdf.Array):
        obj["/OpenAction"] = opening
    kind = str(obj.get("/S", ""))
    # Any dictionary naming an active action is one, however it is reached
    # (/A, /OpenAction, /AA, a /Next chain, a name tree): made inert in place.
    action: str | None = _ACTIVE_ACTIONS.get(kind)
    if kind == "/URI" and not _SAFE_URI.match(str(obj.get("/URI", ""))):
        action = N_("a link that runs code")
    if action is not None:
        removed.add(action)
        obj["/S"] = pikepdf.Name.GoTo
        obj["/D"] = pikepdf.Array([])
        for key in ("/JS", "/F", "/Win", "/Mac", "/Unix", "/Fields", "/URI", "/Next"):
            if key in obj:
                del obj[key]


def _active_annotation(annot: pikepdf.Object, removed: set[str]) -> bool:
    if not isinstance(annot, pikepdf.Dictionary):
        return False
    subtype = str(annot.get("/Subtype", ""))
    if subtype in _ACTIVE_ANNOTATIONS:
        removed.add(_ACTIVE_ANNOTATIONS[subtype])
        return True
    return False


# -- images ----------------------------------------------------------------------------
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}


def _image(data: bytes, media_type: str, name: str) -> Rebuilt:
    unreadable = N_("%(name)s could not be read as an image; it may be damaged or cut short.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_FORMATS[media_type]])  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CannotRebuild(N_("%(name)s has more pixels than we accept; send a smaller copy."), name=name) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise CannotRebuild(unreadable, name=name) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise CannotRebuild(
            N_("%(name)s is %(width)d × %(height)d pixels, more than we accept; send a smaller copy."),
            name=name,
            width=width,
            height=height,
        )
    try:
        image.load()  # decodes everything: a truncated or broken file fails here
    except (OSError, ValueError, SyntaxError):
        raise CannotRebuild(unreadable, name=name) from None
    removed = set()
    if image.getexif() or "exif" in image.info:
        removed.add(N_("photo metadata (EXIF)"))
    if any(k in image.info for k in ("text", "comment", "icc_profile", "xmp", "XML:com.adobe.xmp")) or getattr(
        image, "text", None
    ):
        removed.add(N_("text and metadata chunks"))
    upright = ImageOps.exif_transpose(image)
    upright.info = {}  # nothing of the received file's metadata is written again (comments, ICC, text)
    out = io.BytesIO()
    if media_type == "image/png":
        upright.save(out, "PNG", optimize=False)
    else:
        if upright.mode not in ("L", "RGB", "CMYK"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=92)
    return Rebuilt(out.getvalue(), tuple(sorted(removed)))
