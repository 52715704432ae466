"""Carbon-film spectrum images (eels_helpers.evaluation.film_images): seeded, carbon only, and what a
model's maps keep on them besides carbon."""

import numpy as np
import pytest

from eels_helpers.evaluation.film_images import FilmImageReport, carbon_film_images, film_image_report


def test_images_are_seeded_carbon_film_windows_of_poisson_pixels():
    two = carbon_film_images(2, side=3, seed=5)
    again = carbon_film_images(2, side=3, seed=5)
    one = carbon_film_images(1, side=3, seed=5)
    for a, b in zip(two, again):
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(one[0].data, two[0].data)          # a smaller set is a prefix
    for image in two:
        assert image.data.shape == (3, 3, image.energy_eV.size)
        assert image.energy_eV[0] + 20 <= 284.0 <= image.energy_eV[-1] - 60   # C K inside the window
        step = np.diff(image.energy_eV)
        assert 0.1 <= step[0] <= 1.0 and np.allclose(step, step[0])
        pixels = image.data.reshape(9, -1)
        assert np.all(pixels == np.round(pixels)) and not np.array_equal(pixels[0], pixels[1])   # own draws
        assert "C K" in image.metadata["description"]
    assert not np.array_equal(two[0].data[0, 0, :10], carbon_film_images(1, side=3, seed=6)[0].data[0, 0, :10])
    with pytest.raises(ValueError, match="side"):
        carbon_film_images(1, side=0)


def test_report_counts_the_images_that_keep_another_element_than_carbon():
    images = carbon_film_images(2, side=4, seed=2828)
    report = film_image_report("default", images)
    assert len(report.kept) == 2 and all("C" not in k for k in report.kept)
    assert report.images_with_other == sum(bool(k) for k in report.kept)
    assert "C" not in report.pixel_fraction and all(0 < f <= 1 for f in report.pixel_fraction.values())
    made_up = FilmImageReport("m", (("K",), (), ("B", "K")), {"K": 0.01})
    assert made_up.images_with_other == 2
    assert made_up.summary() == "carbon-film images (3): an element other than C kept in 2 (B, K)"
    assert made_up.to_dict()["kept"] == [["K"], [], ["B", "K"]]
