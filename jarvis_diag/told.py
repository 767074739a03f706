"""The library's log readers as a notebook calls them: what reading warned of is told as a
:class:`~jarvis_diag.errors.DiagWarning` too (it was in ``.warnings`` alone, so a file that is
no log gave an empty Timeline without a word). The command line calls the readers under
them, and says their warnings its own way."""

from __future__ import annotations

import functools
import warnings

from jarvis_diag import ingest as _ingest
from jarvis_diag import timeline as _timeline
from jarvis_diag.errors import DiagWarning


def _tell(said: list[str]) -> None:
    for text in said:
        warnings.warn(text, DiagWarning, stacklevel=3)


@functools.wraps(_timeline.load_timeline)
def load_timeline(*args, **kwargs):
    tl = _timeline.load_timeline(*args, **kwargs)
    _tell(tl.warnings)
    return tl


@functools.wraps(_ingest.read_events)
def read_events(*args, **kwargs):
    result = _ingest.ingest(*args, **kwargs)
    _tell(result.warnings)
    return result.events
