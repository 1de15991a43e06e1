"""distance_km is the haversine shortcut for geopy's great_circle: they must agree."""
from __future__ import annotations

import numpy as np
import pytest
from geopy.distance import great_circle

from exchange.geo.distance import bounding_box, distance_km, distances_km

PAIRS = [
    ((44.4468, 1.4406), (44.4564, 1.5134)),  # Cahors - Arcambal, a few km
    ((44.4468, 1.4406), (48.8566, 2.3522)),  # Cahors - Paris
    ((41.9186, 8.7369), (42.7021, 9.4515)),  # Ajaccio - Bastia
    ((48.8566, 2.3522), (-20.8790, 55.4486)),  # Paris - Saint-Denis de La Réunion
    ((4.9372, -52.3260), (16.2411, -61.5331)),  # Cayenne - Pointe-à-Pitre
    ((10.0, 10.0), (10.0, 10.0)),
    ((0.0, 0.0), (0.0, 180.0)),  # antipodes
]


@pytest.mark.parametrize("a,b", PAIRS)
def test_distance_km_agrees_with_geopy_great_circle(a, b):
    assert distance_km(*a, *b) == pytest.approx(great_circle(a, b).km, abs=1e-6)
    assert distance_km(*a, *b) == pytest.approx(distance_km(*b, *a), abs=1e-9)


@pytest.mark.parametrize("a,b", PAIRS[:5])
def test_bounding_box_holds_points_within_the_radius(a, b):
    radius_km = distance_km(*a, *b) * 1.0001
    min_lat, max_lat, min_lon, max_lon = bounding_box(*a, radius_km)
    assert min_lat <= b[0] <= max_lat and min_lon <= b[1] <= max_lon


def test_distances_km_is_distance_km_for_many_points_at_once():
    origin = PAIRS[0][0]
    targets = [b for _, b in PAIRS] + [a for a, _ in PAIRS]
    vectorised = distances_km(*origin, np.array([t[0] for t in targets]), np.array([t[1] for t in targets]))
    assert vectorised.tolist() == pytest.approx([distance_km(*origin, *t) for t in targets], abs=1e-6)
