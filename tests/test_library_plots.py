"""The notebook plots show what their titles say: nothing of the data hidden, nothing cut."""

import matplotlib
import numpy as np
import pytest

import jarvis_diag as jd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DESYNC = "sample_logs/callback-desync-switch-back"


@pytest.fixture
def timeline():
    yield jd.load_timeline([DESYNC])
    plt.close("all")


def test_the_waterfalls_legend_hides_no_event(timeline):
    # the legend sat in the lower right corner, on the desync's last output.received and
    # callback.cleared points (incident-walkthrough.ipynb)
    ax = jd.plot_waterfall(timeline, finding="F1")
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    points = np.vstack([c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections
                        if len(c.get_offsets())])
    assert len(points) > 10
    inside = (points[:, 0] >= legend.x0) & (points[:, 0] <= legend.x1) & \
             (points[:, 1] >= legend.y0) & (points[:, 1] <= legend.y1)
    assert not inside.any()
    assert fig.bbox.contains(legend.x1 - 1, legend.y0 + 1)  # in the figure, not cut off at its edge


def test_the_waterfalls_title_is_cut_between_words(timeline):
    # it was the summary's first 90 characters: "... but the server had no call"
    ax = jd.plot_waterfall(timeline, finding="F1")
    f1 = timeline.findings.iloc[0]
    full = f"{f1['id']} {f1['kind']}: {f1['summary']}"
    title = ax.get_title(loc="left")
    assert "\n" in title and len(title.splitlines()) == 2
    shown = title.replace("\n", " ")
    assert shown.endswith(" …") and full.startswith(shown[:-2]) and full[len(shown) - 2] == " "
    short = jd.plots._title("F9 app-warning: 2x a warning")
    assert short == "F9 app-warning: 2x a warning"


def test_a_cdf_starts_from_zero_at_its_smallest_value():
    # with 3 cases the curve began at 1/3, as if a third of the cases lay at the left edge
    ax = jd.plot_cdf({"a": [106.0, 107.0, 110.0]})
    x, y = ax.get_lines()[0].get_data()
    assert (x[0], y[0]) == (106.0, 0.0) and y[-1] == 1.0
    assert list(jd.plots.cdf_points([106.0, 107.0, 110.0])[1]) == pytest.approx([1 / 3, 2 / 3, 1.0])
    plt.close("all")
