"""Media values for ``log()``: ``Image``, ``Histogram``, ``Table`` (W&B's names and arguments).

Why in the store: a media value is logged at a step like a metric, so it must follow rewinds and
forks exactly as metrics do (W&B cannot rewind media). Its bytes go to the store's ``media`` table,
addressed by their sha256 (a blob logged twice, or shared by a run and its forks, is stored once);
the history holds a small dict that refers to it, in W&B's shape::

    {"_type": "image-file", "sha256": "...", "size": 1234, "format": "png", "width": 8, "height": 8}

So ``history()`` and ``summary`` show the reference, and ``load(ref, source)`` reads the value back
as the same class (``Image``, ``Histogram`` or ``Table``). A list of media (``[Image(a), Image(b)]``,
common in W&B scripts) is stored as one blob per item and the reference
``{"_type": "media-list", "items": [ref, ...]}``; ``load`` gives the list back. The blob is written before the row
refers to it, so a stored reference never points at a missing blob.

NumPy and Pillow are optional: an ``Image`` from an array or a PIL image needs Pillow (PNG
encoding); an ``Image`` from a file path does not.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from typing import Any, Mapping, Sequence

from .errors import UsageError

MEDIA_TYPES = ("image-file", "histogram", "table-file")
_IMAGE_FORMATS = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif", b"GIF89a": "gif",
                  b"RIFF": "webp", b"BM": "bmp"}


class Media:
    """A value that ``log()`` stores as a blob plus a reference (subclasses say how to encode)."""

    _type = ""

    def to_blob(self) -> tuple[bytes, dict[str, Any]]:
        """The bytes to store and the extra fields of the reference."""
        raise NotImplementedError

    def to_ref(self) -> tuple[dict[str, Any], bytes]:
        data, extra = self.to_blob()
        ref = {"_type": self._type, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), **extra}
        return ref, data


def _pil() -> Any:
    try:
        from PIL import Image as PILImage
    except ImportError:  # pragma: no cover - pillow is in the test environment
        raise UsageError("forkpoint.Image from an array or a PIL image needs Pillow: pip install pillow") from None
    return PILImage


def _to_uint8(arr: Any) -> Any:
    """W&B's rule: floats are scaled from [0, 1] (or min-max normalised when negative) to 0-255."""
    import numpy as np

    data = np.asarray(arr)
    if data.dtype.kind == "b":
        data = data.astype(np.uint8) * 255
    elif data.dtype.kind == "f":
        if not np.all(np.isfinite(data)):
            raise UsageError("forkpoint.Image: the array holds NaN or infinite values")
        lo = float(data.min()) if data.size else 0.0
        if lo < 0:
            span = float(data.max()) - lo
            data = (data - lo) / (span or 1.0)
        if data.size and float(data.max()) <= 1.0:
            data = data * 255
    elif data.dtype.kind not in "iu":
        raise UsageError(f"forkpoint.Image: an array of dtype {data.dtype} is not an image (expected numbers)")
    return np.clip(data, 0, 255).astype(np.uint8)


def _hwc(arr: Any) -> Any:
    """2-D (H, W), or 3-D with channels last (H, W, C) or first (C, H, W; torch's layout)."""
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4) and arr.shape[0] in (1, 3, 4):
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)) or 0 in arr.shape:
        raise UsageError(f"forkpoint.Image: an array of shape {tuple(arr.shape)} is not an image: expected "
                         "(H, W), (H, W, 1|3|4) or (1|3|4, H, W)")
    return arr


def _sniff(data: bytes) -> str | None:
    for magic, fmt in _IMAGE_FORMATS.items():
        if data.startswith(magic):
            return fmt
    return None


class Image(Media):
    """An image: a NumPy array, a PIL image, a torch tensor (C, H, W) or the path of an image file.

    Arrays and tensors are encoded as PNG (floats in [0, 1] are scaled to 0-255, as in W&B); a file
    is stored byte for byte. ``caption`` is kept in the reference."""

    _type = "image-file"

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 file_type: str | None = None, **kwargs: Any) -> None:
        if caption is not None and not isinstance(caption, str):
            raise UsageError(f"forkpoint.Image caption={caption!r} is not a str")
        if kwargs:
            raise UsageError(f"forkpoint.Image does not support {sorted(kwargs)} (supported: data_or_path, mode, "
                             "caption, file_type)")
        if file_type not in (None, "png"):
            raise UsageError(f"forkpoint.Image file_type={file_type!r}: only 'png' is written (files are kept as they are)")
        self.caption = caption
        self._bytes: bytes
        self.format: str
        self.width: int | None = None
        self.height: int | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            self._from_file(os.fspath(data_or_path))
        elif type(data_or_path).__module__.startswith("PIL."):
            self._from_pil(data_or_path, mode)
        else:
            self._from_array(data_or_path, mode)

    def _from_file(self, path: str) -> None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise UsageError(f"forkpoint.Image({path!r}): cannot read the file: {exc.strerror or exc}") from None
        fmt = _sniff(data)
        if fmt is None:
            raise UsageError(f"forkpoint.Image({path!r}) is not a PNG, JPEG, GIF, WebP or BMP file")
        self._bytes, self.format = data, fmt
        try:
            pil = _pil()
            with pil.open(io.BytesIO(data)) as img:
                self.width, self.height = img.size
        except Exception:  # the size is informative only; a file Pillow cannot read is stored as it is
            pass

    def _from_pil(self, img: Any, mode: str | None) -> None:
        if mode is not None:
            img = img.convert(mode)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        self._bytes, self.format = buf.getvalue(), "png"
        self.width, self.height = img.size

    def _from_array(self, data: Any, mode: str | None) -> None:
        if hasattr(data, "detach") and hasattr(data, "cpu"):  # a torch tensor
            data = data.detach().cpu().numpy()
        if not hasattr(data, "__array__") and not isinstance(data, (list, tuple)):
            raise UsageError(f"forkpoint.Image: {type(data).__name__} is not an image: expected a NumPy array, "
                             "a PIL image, a torch tensor or a file path")
        import numpy as np

        arr = _hwc(np.asarray(data))
        pil = _pil()
        self._from_pil(pil.fromarray(_to_uint8(arr)), mode)

    def to_blob(self) -> tuple[bytes, dict[str, Any]]:
        extra: dict[str, Any] = {"format": self.format, "width": self.width, "height": self.height}
        if self.caption is not None:
            extra["caption"] = self.caption
        return self._bytes, extra

    @property
    def data(self) -> bytes:
        """The encoded image file (PNG for arrays)."""
        return self._bytes

    def to_pil(self) -> Any:
        return _pil().open(io.BytesIO(self._bytes))

    def to_numpy(self) -> Any:
        import numpy as np

        return np.asarray(self.to_pil())

    @classmethod
    def _from_blob(cls, data: bytes, ref: Mapping[str, Any]) -> Image:
        img = cls.__new__(cls)
        img._bytes, img.format = data, ref.get("format") or _sniff(data) or "png"
        img.width, img.height, img.caption = ref.get("width"), ref.get("height"), ref.get("caption")
        return img

    def __repr__(self) -> str:
        return f"<forkpoint.Image {self.format} {self.width}x{self.height}>"


class Histogram(Media):
    """A histogram of ``sequence`` (``num_bins`` bins, at most 512), or a precomputed
    ``np_histogram=(counts, bin_edges)`` as ``numpy.histogram`` returns it."""

    _type = "histogram"
    MAX_BINS = 512

    def __init__(self, sequence: Sequence[Any] | None = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        if (sequence is None) == (np_histogram is None):
            raise UsageError("forkpoint.Histogram needs exactly one of sequence= or np_histogram=(counts, bin_edges)")
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or not 1 <= num_bins <= self.MAX_BINS:
            raise UsageError(f"forkpoint.Histogram num_bins={num_bins!r}: expected an int from 1 to {self.MAX_BINS}")
        if np_histogram is not None:
            try:
                counts, edges = np_histogram
                counts, edges = [_finite(c, "counts") for c in counts], [_finite(e, "bin edges") for e in edges]
            except (TypeError, ValueError):
                raise UsageError("forkpoint.Histogram np_histogram= is not a pair (counts, bin_edges) of numbers") from None
            if len(edges) != len(counts) + 1 or not counts:
                raise UsageError(f"forkpoint.Histogram np_histogram=: {len(counts)} counts need {len(counts) + 1} "
                                 f"bin edges, got {len(edges)}")
            if len(counts) > self.MAX_BINS:
                raise UsageError(f"forkpoint.Histogram np_histogram= has {len(counts)} bins: at most {self.MAX_BINS}")
        else:
            import numpy as np

            try:
                values = np.asarray(sequence, dtype=float).ravel()
            except (TypeError, ValueError):
                raise UsageError("forkpoint.Histogram sequence= is not a sequence of numbers") from None
            if values.size == 0 or not np.all(np.isfinite(values)):
                raise UsageError("forkpoint.Histogram sequence= is empty or holds NaN or infinite values")
            c, e = np.histogram(values, bins=num_bins)
            counts, edges = c.tolist(), e.tolist()
        self.histogram: list[float] = counts
        self.bins: list[float] = edges

    def to_blob(self) -> tuple[bytes, dict[str, Any]]:
        data = json.dumps({"values": self.histogram, "bins": self.bins}, separators=(",", ":")).encode()
        return data, {"num_bins": len(self.histogram)}

    @classmethod
    def _from_blob(cls, data: bytes, ref: Mapping[str, Any]) -> Histogram:
        got = json.loads(data)
        h = cls.__new__(cls)
        h.histogram, h.bins = got["values"], got["bins"]
        return h

    def __repr__(self) -> str:
        return f"<forkpoint.Histogram {len(self.histogram)} bins>"


def _finite(x: Any, what: str) -> float:
    v = x.item() if hasattr(x, "item") else x
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(what)
    return v


class Table(Media):
    """Rows under named columns: ``Table(columns=[...], data=[[...], ...])`` or
    ``Table(dataframe=df)``; ``add_data(*row)`` appends a row. Cells are numbers, str, bool or None."""

    _type = "table-file"

    def __init__(self, columns: Sequence[str] | None = None, data: Sequence[Sequence[Any]] | None = None,
                 rows: Sequence[Sequence[Any]] | None = None, dataframe: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise UsageError(f"forkpoint.Table does not support {sorted(kwargs)} (supported: columns, data, rows, dataframe)")
        if data is not None and rows is not None:
            raise UsageError("forkpoint.Table takes data= or rows=, not both")
        data = data if data is not None else rows
        if dataframe is not None:
            if data is not None:
                raise UsageError("forkpoint.Table takes dataframe= or data=, not both")
            if not hasattr(dataframe, "columns") or not hasattr(dataframe, "itertuples"):
                raise UsageError(f"forkpoint.Table dataframe= is {type(dataframe).__name__}, not a pandas DataFrame")
            columns = [str(c) for c in dataframe.columns] if columns is None else columns
            data = [list(r) for r in dataframe.itertuples(index=False, name=None)]
        data = [] if data is None else [list(r) for r in data]
        if columns is None:
            width = len(data[0]) if data else 0
            columns = [f"col{i + 1}" for i in range(width)]  # W&B's default names
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise UsageError(f"forkpoint.Table columns={columns!r} is not a list of str")
        if len(set(columns)) != len(columns):
            raise UsageError(f"forkpoint.Table columns={list(columns)!r} names a column twice")
        self.columns: list[str] = list(columns)
        self.data: list[list[Any]] = []
        for row in data:
            self.add_data(*row)

    def add_data(self, *row: Any) -> None:
        if len(row) != len(self.columns):
            raise UsageError(f"forkpoint.Table.add_data: {len(row)} values for {len(self.columns)} columns {self.columns}")
        self.data.append([self._cell(c, v) for c, v in zip(self.columns, row)])

    @staticmethod
    def _cell(column: str, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        item = getattr(value, "item", None)
        if callable(item) and getattr(value, "ndim", 0) == 0:
            got = item()
            if isinstance(got, (bool, int, float, str)):
                return got
        raise UsageError(f"forkpoint.Table column {column!r}: a {type(value).__name__} cell is not supported "
                         "(expected a number, str, bool or None)")

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def to_blob(self) -> tuple[bytes, dict[str, Any]]:
        blob = json.dumps({"columns": self.columns, "data": self.data}, allow_nan=True, separators=(",", ":"))
        return blob.encode(), {"ncols": len(self.columns), "nrows": len(self.data)}

    @classmethod
    def _from_blob(cls, data: bytes, ref: Mapping[str, Any]) -> Table:
        got = json.loads(data)
        return cls(columns=got["columns"], data=got["data"])

    def __repr__(self) -> str:
        return f"<forkpoint.Table {len(self.data)}x{len(self.columns)}>"


_CLASSES: dict[str, Any] = {"image-file": Image, "histogram": Histogram, "table-file": Table}
LIST_TYPE = "media-list"


class MediaList(Media):
    """A list of media values logged under one key: each item is its own blob."""

    _type = LIST_TYPE

    def __init__(self, items: Sequence[Media]) -> None:
        self.items = list(items)


def is_ref(value: Any) -> bool:
    """Whether a history value is a media reference (or a list of them)."""
    if not isinstance(value, dict):
        return False
    if value.get("_type") == LIST_TYPE:
        items = value.get("items")
        return isinstance(items, list) and all(is_ref(i) and i.get("_type") != LIST_TYPE for i in items)
    return value.get("_type") in _CLASSES and isinstance(value.get("sha256"), str)


def store_of(source: Any) -> Any:
    """The store behind a ``Run``, ``RunView``, ``Api``, ``Store`` or a store path/URL."""
    from .store import Store, open_store

    if isinstance(source, Store):
        return source
    got = getattr(source, "_store", None)
    if isinstance(got, Store):
        return got
    if isinstance(source, (str, os.PathLike)):
        return open_store(source, create=False)
    raise UsageError(f"{source!r} is not a run, a RunView, an Api, a Store or a store path/URL")


def blob(ref: Mapping[str, Any], source: Any) -> bytes:
    """The stored bytes a media reference (a history value) points to."""
    if not is_ref(ref) or ref["_type"] == LIST_TYPE:
        raise UsageError(f"{ref!r} is not a media reference: expected a history value such as "
                         "{'_type': 'image-file', 'sha256': ...}")
    store = store_of(source)
    data = store.get_blob(ref["sha256"])
    if data is None:
        from .errors import StoreError

        raise StoreError(f"store {store.url} has no media blob {ref['sha256']} (referred to by {dict(ref)!r})")
    return data


def load(ref: Mapping[str, Any], source: Any) -> Any:
    """A media reference read back as the ``Image``, ``Histogram`` or ``Table`` it was logged as
    (a list of them for a ``media-list`` reference).

    ``source``: the run, ``RunView`` or ``Api`` (or store path/URL) the reference was read from."""
    if is_ref(ref) and ref["_type"] == LIST_TYPE:
        return [load(item, source) for item in ref["items"]]
    data = blob(ref, source)
    return _CLASSES[ref["_type"]]._from_blob(data, ref)
