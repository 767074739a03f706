"""open_item: the next item still open, looking back or forward, as items close."""

from jarvis_diag.links import open_item


def test_looking_back_skips_closed_items_and_says_none_below_the_first():
    links = list(range(6))
    for j in (4, 3, 1):
        links[j] = j - 1
    assert [open_item(links, i) for i in range(6)] == [0, 0, 2, 2, 2, 5]
    links[0] = -1
    assert open_item(links, 1) == -1 and open_item(links, 4) == 2


def test_looking_forward_ends_at_the_extra_last_item():
    links = list(range(5 + 1))  # (item 5: none left)
    for j in (0, 1, 3):
        links[j] = j + 1
    assert [open_item(links, i) for i in range(6)] == [2, 2, 2, 4, 4, 5]
    links[2], links[4] = 3, 5
    assert open_item(links, 0) == 5
