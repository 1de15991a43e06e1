"""Seeded synthetic watches and lots spread over France the way a real region would be.

Watches: traders' depots in and around real towns (more in big ones; two in three within ~12 km
of the town, the rest spread ~45 km around it, standing for the smaller towns), radius log-uniform
5-100 km (median about 22 km: most traders look near their depot, a few far), most of them
narrowed to one to three categories. Lots: farms farther out around the same towns. The town
list is real (coordinates of town halls, rounded); everything else is drawn from a seeded RNG
and is synthetic, used only to measure speed.
"""
from __future__ import annotations

import math
import random

from exchange.geo.watch_index import LotFacts, WatchSpec

# (name, lat, lon, weight): weight roughly follows the urban area's population.
TOWNS = [
    ("Paris", 48.8566, 2.3522, 10), ("Marseille", 43.2965, 5.3698, 5), ("Lyon", 45.7640, 4.8357, 5),
    ("Toulouse", 43.6047, 1.4442, 4), ("Bordeaux", 44.8378, -0.5792, 4), ("Lille", 50.6292, 3.0573, 4),
    ("Nice", 43.7102, 7.2620, 3), ("Nantes", 47.2184, -1.5536, 3), ("Strasbourg", 48.5734, 7.7521, 3),
    ("Montpellier", 43.6108, 3.8767, 3), ("Rennes", 48.1173, -1.6778, 3), ("Grenoble", 45.1885, 5.7245, 2),
    ("Reims", 49.2583, 4.0317, 2), ("Saint-Étienne", 45.4397, 4.3872, 2), ("Toulon", 43.1242, 5.9280, 2),
    ("Le Havre", 49.4944, 0.1079, 2), ("Dijon", 47.3220, 5.0415, 2), ("Angers", 47.4784, -0.5632, 2),
    ("Nîmes", 43.8367, 4.3601, 2), ("Clermont-Ferrand", 45.7772, 3.0870, 2), ("Rouen", 49.4432, 1.0999, 2),
    ("Tours", 47.3941, 0.6848, 2), ("Le Mans", 48.0061, 0.1996, 1), ("Brest", 48.3904, -4.4861, 1),
    ("Limoges", 45.8336, 1.2611, 1), ("Amiens", 49.8941, 2.2958, 1), ("Perpignan", 42.6887, 2.8948, 1),
    ("Metz", 49.1193, 6.1757, 1), ("Besançon", 47.2378, 6.0241, 1), ("Orléans", 47.9030, 1.9093, 1),
    ("Caen", 49.1829, -0.3707, 1), ("Poitiers", 46.5802, 0.3404, 1), ("Pau", 43.2951, -0.3708, 1),
    ("Agen", 44.2033, 0.6163, 1), ("Cahors", 44.4475, 1.4419, 1), ("Rodez", 44.3506, 2.5750, 1),
]

# (category, share of lots, products): shares follow what short supply chains sell most.
CATEGORIES = [
    ("vegetables", 30, ["Tomates cœur de bœuf", "Pommes de terre", "Carottes", "Courgettes", "Salade batavia",
                        "Poireaux", "Oignons rosés", "Haricots verts"]),
    ("fruits", 18, ["Pommes Reinette", "Fraises gariguette", "Abricots", "Poires", "Cerises", "Melons"]),
    ("dairy", 10, ["Fromage de chèvre", "Lait cru", "Yaourts fermiers", "Beurre doux", "Tomme"]),
    ("meat", 8, ["Agneau", "Bœuf haché", "Volaille fermière", "Porc noir", "Canard gras"]),
    ("eggs", 8, ["Œufs plein air", "Œufs de caille"]),
    ("honey", 4, ["Miel de châtaignier", "Miel de lavande"]),
    ("grains", 4, ["Farine de blé", "Lentilles vertes", "Pois chiches"]),
    ("drinks", 8, ["Vin rouge", "Cidre brut", "Jus de pomme"]),
    ("plants", 5, ["Plants de tomates", "Aromatiques en pot"]),
    ("other", 5, ["Noix", "Safran", "Truffes"]),
]
LABELS = ["bio", "label_rouge", "aop", "hve"]
_KM_PER_DEG = 111.195


def _around(rng: random.Random, sigma_km: float) -> tuple[float, float]:
    _, lat, lon, _ = rng.choices(TOWNS, weights=[t[3] for t in TOWNS])[0]
    lat += rng.gauss(0, sigma_km) / _KM_PER_DEG
    lon += rng.gauss(0, sigma_km) / (_KM_PER_DEG * math.cos(math.radians(lat)))
    return lat, lon


def _category(rng: random.Random) -> tuple[str, list[str]]:
    name, _, products = rng.choices(CATEGORIES, weights=[c[1] for c in CATEGORIES])[0]
    return name, products


def watches(n: int, seed: int = 1) -> list[WatchSpec]:
    """n active watches around French towns, seeded."""
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        lat, lon = _around(rng, 12.0 if rng.random() < 2 / 3 else 45.0)
        radius_km = math.exp(rng.uniform(math.log(5), math.log(100)))
        categories = frozenset() if rng.random() < 0.25 else frozenset(
            _category(rng)[0] for _ in range(rng.choice((1, 1, 2, 3))))
        q = None
        if rng.random() < 0.08:
            q = rng.choice(_category(rng)[1]).split()[0]
        out.append(WatchSpec(
            id=i, user_id=1 + i // 3, lat=lat, lon=lon, radius_km=radius_km, categories=categories, q=q,
            max_price_cents=rng.randrange(200, 2000, 10) if rng.random() < 0.3 else None,
            labels=frozenset({rng.choice(LABELS)}) if rng.random() < 0.1 else frozenset(),
            min_quantity=float(rng.choice((5, 10, 20, 50))) if rng.random() < 0.1 else None,
        ))
    return out


def lots(n: int, seed: int = 2) -> list[LotFacts]:
    """n lot events at farms around the same towns (~30 km out), seeded."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lat, lon = _around(rng, 30.0)
        category, products = _category(rng)
        out.append(LotFacts(
            lat=lat, lon=lon, category=category, product=rng.choice(products),
            price_cents=rng.randrange(100, 3000, 5),
            labels=frozenset(rng.sample(LABELS, rng.choice((0, 0, 1, 2)))),
            quantity=float(rng.choice((3, 10, 25, 40, 100, 500))),
        ))
    return out
