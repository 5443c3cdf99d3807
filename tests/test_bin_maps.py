import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from orbitnet.figures import bin_maps as maps  # noqa: E402


def test_values_land_on_their_bins(galaxy):
    values = np.arange(1, galaxy.n_bins + 1) * 10.0
    img = maps.bin_values_to_image(galaxy, values)
    ids = galaxy.bin_image()
    assert np.all(np.isnan(img[ids == 0]))
    assert np.array_equal(img[ids > 0], ids[ids > 0] * 10.0)
    # a pixel of bin 40 (row 1 of bins.dat) carries bin 40's value
    assert img.ravel()[10] == 400.0


def test_wrong_length_is_an_error(galaxy):
    with pytest.raises(ValueError, match="one value per bin"):
        maps.bin_values_to_image(galaxy, np.zeros(10))


def test_rotation_puts_major_axis_horizontal(galaxy):
    # the observed velocity gradient is at ~36 deg on the stored grid, ~0 in the galaxy frame
    X, Y = maps.pixel_corners(galaxy, "galaxy")
    xc = 0.25 * (X[:-1, :-1] + X[1:, 1:] + X[:-1, 1:] + X[1:, :-1])
    yc = 0.25 * (Y[:-1, :-1] + Y[1:, 1:] + Y[:-1, 1:] + Y[1:, :-1])
    img = maps.bin_values_to_image(galaxy, galaxy.kinematics.v)
    m = np.isfinite(img)
    a, b, _ = np.linalg.lstsq(np.c_[xc[m], yc[m], np.ones(m.sum())], img[m], rcond=None)[0]
    assert abs(np.degrees(np.arctan2(b, a))) < 3


def test_outlines_and_plot(galaxy):
    segs = maps.bin_outline_segments(galaxy, "sky")
    assert segs.shape[1:] == (2, 2) and len(segs) > 152
    # on the unrotated grid every segment is axis-parallel and one pixel long
    lengths = np.hypot(*(segs[:, 1] - segs[:, 0]).T)
    assert np.allclose(lengths, 1.0)
    fig = maps.map_grid(galaxy, {"v": dict(values=galaxy.kinematics.v, symmetric=True)})
    assert len(fig.axes) >= 2
    plt.close(fig)
    with pytest.raises(ValueError, match="frame"):
        maps.pixel_corners(galaxy, "north-up")
