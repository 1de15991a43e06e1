"""`flask seed-demo`: farms, traders, watches and current lots around Cahors, the same every time."""
from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from sqlalchemy import select

from exchange.demo import data, history
from exchange.domain import accounts, lots
from exchange.extensions import db
from exchange.geo import gazetteer
from exchange.models import Farm, Role, User, Watch
from exchange.models.types import utcnow

SEED = 46042  # Cahors' INSEE code


def _jitter(rng: random.Random, lat: float, lon: float, max_km: float = 2.5) -> tuple[float, float]:
    """A point a little way from the commune's centre: farms are not at the town hall."""
    d = rng.uniform(0.3, max_km)
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = d * math.cos(bearing) / 111.2
    dlon = d * math.sin(bearing) / (111.2 * math.cos(math.radians(lat)))
    return round(lat + dlat, 5), round(lon + dlon, 5)


def _slug(name: str) -> str:
    return "".join(c for c in gazetteer.normalize(name).replace(" ", "-") if c.isalnum() or c == "-")


def _user(email: str, role: Role, name: str, password_hash: str, **kw) -> User:
    user = User(email=email, role=role.value, name=name, password_hash=password_hash, locale="fr", **kw)
    db.session.add(user)
    return user


def is_seeded() -> bool:
    return db.session.scalar(select(User.id).limit(1)) is not None


def seed(lot_count: int = 150, now: dt.datetime | None = None) -> dict:
    """Create the demo exchange; returns what was created, with the logins to print."""
    rng = random.Random(SEED)
    now = now or utcnow()
    # One argon2 hash for every demo account: they share the published demo password.
    password_hash = accounts._hasher().hash(data.DEMO_PASSWORD)

    admin = _user(data.DEMO_LOGINS["admin"], Role.admin, "Administration Carreau", password_hash)
    chamber = _user(data.DEMO_LOGINS["chamber"], Role.chamber, "Chambre d'agriculture du Lot", password_hash,
                    territory=["46", "82"])

    farms: list[Farm] = []
    for i, (postcode, commune, name, kinds) in enumerate(data.FARMS):
        found = gazetteer.resolve(postcode, commune)
        email = data.DEMO_LOGINS["producer"] if i == 0 else f"{_slug(name)}@demo.carreau.fr"
        owner = _user(email, Role.producer, name.replace("Les ", "").replace("Le ", ""), password_hash,
                      phone=f"+33 5 65 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}")
        lat, lon = _jitter(rng, found.lat, found.lon)
        farm = Farm(owner=owner, name=name, postcode=postcode, commune=found.name, insee=found.insee,
                    department=found.department, lat=lat, lon=lon, pickup_hours=rng.choice(data.PICKUP_HOURS),
                    pickup_instructions="Sonnez au portail, quai de chargement à gauche de la grange.")
        farm.kinds = kinds
        db.session.add(farm)
        farms.append(farm)

    traders: list[User] = []
    for i, (postcode, commune, name, kind) in enumerate(data.TRADERS):
        found = gazetteer.resolve(postcode, commune)
        email = data.DEMO_LOGINS["trader"] if i == 0 else f"{_slug(name)}@demo.carreau.fr"
        lat, lon = _jitter(rng, found.lat, found.lon, max_km=1.5)
        trader = _user(email, Role.trader, name, password_hash, base_postcode=postcode, base_commune=found.name,
                       base_insee=found.insee, base_lat=lat, base_lon=lon)
        traders.append(trader)
        watch = Watch(trader=trader, name=f"Autour de {found.name}", lat=lat, lon=lon,
                      radius_km=rng.choice([25.0, 30.0, 40.0, 50.0]))
        if kind == "restaurant":
            watch.categories = ["vegetables", "meat", "dairy", "fruits"]
        db.session.add(watch)
    db.session.commit()

    kinds_by_farm = {farm.id: farm.kinds for farm in farms}
    posted = 0
    while posted < lot_count:
        farm = farms[posted % len(farms)] if posted < len(farms) else rng.choice(farms)
        product, category, unit, low, high, qty_low, qty_high, labels = rng.choice(
            data.PRODUCTS[rng.choice(kinds_by_farm[farm.id])])
        quantity = Decimal(rng.randint(qty_low, qty_high))
        lots.post_lot(farm.owner, farm_id=farm.id, product=product, category=category, unit=unit,
                      quantity=quantity, price_cents=int(round(rng.randint(low, high), -1)),
                      available_until=now + dt.timedelta(hours=rng.choice([20, 30, 44, 68, 92, 140])),
                      min_order=Decimal(max(1, qty_low // 10)) if rng.random() < 0.3 else None,
                      labels=list(labels), description=None)
        posted += 1

    past = history.add_history(farms, traders, now=now)
    return {"farms": len(farms), "traders": len(traders), "lots": posted, "history": past, "password": data.DEMO_PASSWORD,
            "logins": data.DEMO_LOGINS, "chamber_territory": chamber.territory, "admin": admin.email}
