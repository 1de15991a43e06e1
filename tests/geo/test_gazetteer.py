"""The offline gazetteer: lookups, resolution errors, search ranking, nearest commune."""
from __future__ import annotations

import bisect
import math
import random
import threading

import pytest

from exchange.domain.errors import InvalidInput
from exchange.geo import gazetteer
from exchange.geo.distance import EARTH_RADIUS_KM, distance_km
from exchange.geo.gazetteer import by_insee, by_postcode, nearest, normalize, resolve, search

CAHORS = (44.4475, 1.4414)  # the Valentré bridge's side of town, not the stored point itself


def insees(communes):
    return [c.insee for c in communes]


# --- the data itself -----------------------------------------------------------------------------

def test_every_commune_of_france_with_its_arrondissements_is_there():
    communes = gazetteer.communes()
    assert 34_800 < len(communes) < 35_100  # 34,875 communes + 45 arrondissements in COG 2025
    assert len({c.insee for c in communes}) == len(communes)
    departments = {c.department for c in communes}
    assert {"01", "2A", "2B", "46", "95", "971", "972", "973", "974", "976"} <= departments
    assert len(departments) == 101
    for c in communes:
        assert c.postcodes and all(len(pc) == 5 and pc.isdigit() for pc in c.postcodes), c
        assert c.name and c.region
        assert -22 < c.lat < 52 and -62 < c.lon < 56, c


def test_communes_carry_their_article():
    assert by_insee("01001").name == "L'Abergement-Clémenciat"
    assert by_insee("76351").name == "Le Havre"


# --- Cahors and the postcodes --------------------------------------------------------------------

def test_cahors_by_postcode_and_by_insee():
    (cahors,) = by_postcode("46000")
    assert cahors.insee == "46042" and cahors.name == "Cahors"
    assert (cahors.department, cahors.region) == ("46", "Occitanie")
    assert by_insee("46042") == cahors
    assert cahors.postcodes == ("46000",)
    assert resolve("46000") == cahors
    assert resolve(" 46 000 ", "cahors") == cahors


def test_unknown_codes_find_nothing():
    assert by_postcode("46999") == []
    assert by_insee("46999") is None


def test_a_shared_postcode_without_a_commune_is_ambiguous_and_names_the_choices():
    with pytest.raises(InvalidInput) as caught:
        resolve("46090")
    error = caught.value
    assert error.code == "ambiguous_postcode" and error.status == 422
    assert set(error.errors) == {"commune"}
    choices = error.extra["choices"]
    assert {"insee": "46007", "name": "Arcambal"} in choices
    assert {"insee": "46224", "name": "Pradines"} in choices
    assert len(choices) == len(by_postcode("46090")) > 10
    assert "Arcambal" in str(error.message) and "Pradines" in str(error.errors["commune"][0])


def test_a_shared_postcode_with_its_commune_resolves():
    assert resolve("46090", "Arcambal").insee == "46007"
    assert resolve("46090", "LE MONTAT").insee == "46197"
    assert resolve("46090", "montat").insee == "46197"  # article optional
    assert resolve("46090", "46224").name == "Pradines"  # or the INSEE code


def test_a_commune_that_the_postcode_does_not_serve_is_refused():
    with pytest.raises(InvalidInput) as caught:
        resolve("46090", "Cahors")
    assert caught.value.code == "unknown_commune"
    assert set(caught.value.errors) == {"commune"}
    assert {"insee": "46007", "name": "Arcambal"} in caught.value.extra["choices"]
    with pytest.raises(InvalidInput):
        resolve("46000", "Arcambal")  # a single-commune postcode checks the name too


def test_unknown_postcode_is_refused():
    with pytest.raises(InvalidInput) as caught:
        resolve("46999")
    assert caught.value.code == "unknown_postcode" and set(caught.value.errors) == {"postcode"}


@pytest.mark.parametrize("postcode", ["4600", "460000", "2A004", "20A00", "", "abcde", "46-000"])
def test_malformed_postcodes_are_refused(postcode):
    with pytest.raises(InvalidInput) as caught:
        resolve(postcode)
    assert caught.value.code == "invalid_postcode" and set(caught.value.errors) == {"postcode"}


def test_error_messages_are_lazy_translations_that_render_without_an_app():
    with pytest.raises(InvalidInput) as caught:
        resolve("46999")
    assert type(caught.value.message).__name__ == "LazyString"
    assert str(caught.value.message) == "Code postal 46999 inconnu."


# --- Paris, Lyon, Marseille; Corsica; overseas ---------------------------------------------------

@pytest.mark.parametrize("postcode,insee,name", [
    ("75001", "75101", "Paris 1er Arrondissement"),
    ("69003", "69383", "Lyon 3e Arrondissement"),
    ("13008", "13208", "Marseille 8e Arrondissement"),
    ("75116", "75116", "Paris 16e Arrondissement"),
    ("75016", "75116", "Paris 16e Arrondissement"),
])
def test_plm_postcodes_resolve_to_arrondissements(postcode, insee, name):
    found = resolve(postcode)
    assert (found.insee, found.name) == (insee, name)
    city = name.split()[0]
    assert resolve(postcode, city) == found  # "Paris" is an acceptable commune for 75001
    assert resolve(postcode, name) == found


def test_plm_cities_exist_but_never_shadow_their_arrondissements():
    paris = by_insee("75056")
    assert paris.name == "Paris" and "75001" in paris.postcodes and "75020" in paris.postcodes
    assert by_insee("69123").name == "Lyon" and by_insee("13055").name == "Marseille"
    assert insees(by_postcode("75001")) == ["75101"]
    assert search("paris")[0] == paris
    assert nearest(48.8566, 2.3522).insee.startswith("751")  # Notre-Dame: an arrondissement


def test_corsica():
    ajaccio, bastia = by_insee("2A004"), by_insee("2b033")
    assert (ajaccio.name, ajaccio.department, ajaccio.region) == ("Ajaccio", "2A", "Corse")
    assert (bastia.name, bastia.department) == ("Bastia", "2B")
    assert resolve("20000") == ajaccio
    assert resolve("20200", "Bastia") == bastia
    assert "2B033" in insees(search("20200"))


def test_overseas_department():
    saint_denis = resolve("97400")
    assert (saint_denis.insee, saint_denis.name) == ("97411", "Saint-Denis")
    assert (saint_denis.department, saint_denis.region) == ("974", "La Réunion")
    assert nearest(-20.88, 55.45) == saint_denis
    assert resolve("97300").name == "Cayenne" and resolve("97300").department == "973"


def test_communes_nouvelles_answer_to_their_former_communes_names():
    assert resolve("12320", "Conques").insee == "12218"  # Conques-en-Rouergue
    assert "12218" in insees(search("conques"))


# --- search ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("q", ["saint cere", "Saint-Céré", "SAINT CÉRÉ", "st cere", "St-Céré", "saint-ce",
                               "saint  cé"])
def test_names_match_without_accents_case_or_hyphens(q):
    assert "46251" in insees(search(q))


def test_exact_name_first_then_prefix_then_later_word():
    assert search("saint cere")[0].insee == "46251"
    assert search("cahors")[0].insee == "46042"
    # "Cère" (exact) before "Céret" (prefix) before "Saint-Céré" (a later word).
    found = insees(search("cere", limit=100))
    assert found[0] == "40081"
    assert found.index("66049") < found.index("46251")


def test_ties_go_to_the_most_populous():
    found = search("saint denis", limit=2)
    assert [c.name for c in found] == ["Saint-Denis", "Saint-Denis"]
    assert {c.department for c in found} == {"974", "93"}  # the two largest Saint-Denis


def test_short_prefixes_list_best_first_and_respect_the_limit():
    for q in ("s", "sa", "l", "s", "sa"):  # twice: the second answer comes from the memo
        found = search(q, limit=20)
        assert len(found) == 20
        keys = [normalize(c.name) for c in found]
        assert all(k.startswith(normalize(q)) for k in keys)
    assert search("s", limit=3)[0].name == "Strasbourg"


def test_postcode_prefix_search():
    found = search("460", limit=50)
    assert found[0].insee == "46042"  # 46000 before 46090
    assert all(any(pc.startswith("460") for pc in c.postcodes) for c in found)
    assert len(found) == len(by_postcode("46000")) + len(by_postcode("46090"))
    assert insees(search("46000")) == ["46042"]


def test_postcode_and_name_together():
    assert insees(search("46090 arcambal")) == ["46007"]


def test_nothing_to_search():
    assert search("") == [] and search("  -- ") == [] and search("cahors", limit=0) == []
    assert search("zzzzqqq") == []


def test_normalize():
    assert normalize("Saint-Céré") == "saint cere"
    assert normalize("  L'Haÿ-les-Roses ") == "l hay les roses"
    assert normalize("Œuilly") == "oeuilly"
    assert normalize("Ville-d’Avray") == "ville d avray"


def test_bulk_normalization_agrees_with_normalize():
    names = [c.name for c in gazetteer.communes()]
    assert gazetteer._normalize_many(names) == [normalize(n) for n in names]


# --- nearest --------------------------------------------------------------------------------------

def test_nearest_to_cahors_is_cahors():
    assert nearest(*CAHORS).insee == "46042"
    cahors = by_insee("46042")
    assert nearest(cahors.lat, cahors.lon) == cahors


def test_nearest_is_none_far_from_france():
    assert nearest(45.0, -30.0) is None  # mid-Atlantic
    assert nearest(0.0, 0.0) is None


def test_nearest_agrees_with_a_full_scan():
    """Random points in France, Réunion and Guyane: the grid finds what checking every commune finds.

    The check prunes by latitude only (a degree of latitude is always EARTH_RADIUS·π/180 km), so it
    shares nothing with the grid's ring bounds.
    """
    located = sorted((c for c in gazetteer.communes()
                      if c.insee not in {"75056", "69123", "13055"} | _unlocated()), key=lambda c: c.lat)
    lats = [c.lat for c in located]
    km_per_deg = math.pi * EARTH_RADIUS_KM / 180
    rng = random.Random(46042)
    points = [(rng.uniform(41.3, 51.1), rng.uniform(-5.2, 9.6)) for _ in range(300)]
    points += [(rng.uniform(-21.4, -20.8), rng.uniform(55.2, 55.9)) for _ in range(30)]  # Réunion
    points += [(rng.uniform(2.1, 5.8), rng.uniform(-54.6, -51.6)) for _ in range(30)]  # Guyane
    points += [(44.0, -3.0), (47.0, -8.0)]  # Bay of Biscay: the nearest coast is far, or too far
    for lat, lon in points:
        found = nearest(lat, lon)
        radius_km = gazetteer.NEAREST_MAX_KM if found is None else distance_km(lat, lon, found.lat, found.lon)
        lo = bisect.bisect_left(lats, lat - radius_km / km_per_deg)
        hi = bisect.bisect_right(lats, lat + radius_km / km_per_deg)
        band = [(distance_km(lat, lon, c.lat, c.lon), c.insee, c) for c in located[lo:hi]]
        best = min(band, default=None)
        expected = best[2] if best and best[0] <= gazetteer.NEAREST_MAX_KM else None
        assert found == expected, (lat, lon)


def _unlocated() -> set[str]:
    return gazetteer._data().unlocated


def test_nearest_refuses_impossible_coordinates():
    for lat, lon in [(91.0, 0.0), (0.0, 181.0), (float("nan"), 1.0)]:
        with pytest.raises(InvalidInput):
            nearest(lat, lon)


# --- loading --------------------------------------------------------------------------------------

def test_concurrent_first_use_loads_the_data_once(monkeypatch):
    monkeypatch.setattr(gazetteer, "_gazetteer", None)
    built = []
    real = gazetteer._Gazetteer

    class Counting(real):
        def __init__(self, lines):
            built.append(1)
            super().__init__(lines)

    monkeypatch.setattr(gazetteer, "_Gazetteer", Counting)
    barrier = threading.Barrier(8)
    answers = []

    def lookup():
        barrier.wait()
        answers.append(by_postcode("46000"))

    threads = [threading.Thread(target=lookup) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == [1]
    assert answers == [[by_insee("46042")]] * 8
