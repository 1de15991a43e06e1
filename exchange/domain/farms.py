"""Farms: set up by their producer, located through the gazetteer."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from exchange.domain.errors import Forbidden, InvalidInput, NotFound
from exchange.extensions import db
from exchange.geo import places
from exchange.models import Farm, Lot, User
from exchange.models.lots import OPEN_STATUSES
from exchange.reports import rollup


def siret_is_valid(siret: str) -> bool:
    """A SIRET is 14 digits with a Luhn key (La Poste's SIRETs, 356000000xxxxx, sum their digits to a multiple of 5)."""
    if len(siret) != 14 or not siret.isdigit():
        return False
    if siret.startswith("356000000"):
        return sum(int(c) for c in siret) % 5 == 0
    total = 0
    for i, c in enumerate(reversed(siret)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _check_siret(siret: str | None) -> str | None:
    if siret in (None, ""):
        return None
    siret = siret.replace(" ", "")
    if not siret_is_valid(siret):
        raise InvalidInput(_l("Ce numéro SIRET n'est pas valide (14 chiffres, clé de contrôle)."),
                           errors={"siret": ["Not a valid SIRET (14 digits with a Luhn key)."]})
    return siret


def _place(farm: Farm, data: dict) -> None:
    located = places.locate(postcode=data.get("postcode"), commune=data.get("commune"),
                            address=data.get("address"), lat=data.get("lat"), lon=data.get("lon"))
    farm.postcode, farm.commune, farm.insee = located.postcode, located.commune, located.insee
    farm.department, farm.lat, farm.lon = located.department, located.lat, located.lon


def create_farm(owner: User, **data) -> Farm:
    """A producer sets up a farm; its place comes from the postcode unless coordinates are given."""
    farm = Farm(owner_id=owner.id, name=data["name"].strip(), siret=_check_siret(data.get("siret")),
                address=data.get("address"),
                pickup_instructions=data.get("pickup_instructions"), pickup_hours=data.get("pickup_hours") or {})
    _place(farm, data)
    db.session.add(farm)
    db.session.commit()
    return farm


def get_own_farm(user: User, farm_id: int) -> Farm:
    """A farm its owner may change; someone else's farm is refused."""
    farm = db.session.get(Farm, farm_id)
    if farm is None:
        raise NotFound(_l("Ferme introuvable."))
    if farm.owner_id != user.id and not user.has_role("admin"):
        raise Forbidden(_l("Cette ferme n'est pas la vôtre."))
    return farm


def update_farm(user: User, farm_id: int, changes: dict) -> Farm:
    """Change a farm's details; moving it (postcode or coordinates) relocates it."""
    farm = get_own_farm(user, farm_id)
    if "siret" in changes:
        farm.siret = _check_siret(changes.pop("siret"))
    if "address" in changes:
        farm.address = changes["address"]
    if {"postcode", "commune", "address", "lat", "lon"} & changes.keys():
        where = {"postcode": changes.get("postcode", farm.postcode), "commune": changes.get("commune"),
                 "address": farm.address}
        if "lat" in changes or "lon" in changes:
            where |= {"lat": changes.get("lat", farm.lat), "lon": changes.get("lon", farm.lon)}
        elif "postcode" not in changes:
            where["commune"] = changes.get("commune", farm.commune)
        _place(farm, where)
        # Lots still on offer are collected where the farm now is.
        db.session.execute(update(Lot).where(Lot.farm_id == farm.id, Lot.status.in_(OPEN_STATUSES))
                           .values(lat=farm.lat, lon=farm.lon))
        rollup.relabel(farm_id=farm.id)  # its lots now count in its new commune and department
    for field in ("name", "pickup_instructions", "pickup_hours"):
        if field in changes:
            setattr(farm, field, changes[field])
    db.session.commit()
    return farm


def farms_of(user: User) -> list[Farm]:
    return list(db.session.scalars(select(Farm).where(Farm.owner_id == user.id).order_by(Farm.id)))
