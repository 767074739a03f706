"""Finding the next item still open in a list whose items close one by one."""

from __future__ import annotations


def open_item(links: list[int], i: int) -> int:
    """The open item reached from ``i``: ``links[j] == j`` while item j is open; closing it
    points it at its neighbour on the side searched (``j - 1`` looking back, ``j + 1``
    looking forward). Looking back, -1 means none; looking forward, an extra last item that
    stays open stands for none. The links followed are shortened on the way, so that many
    look-ups stay quick however many items are closed."""
    root = i
    while root >= 0 and links[root] != root:
        root = links[root]
    while i >= 0 and links[i] != root:
        links[i], i = root, links[i]
    return root
