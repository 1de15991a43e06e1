"""What the pages call the API's machine values (categories, units, labels, statuses), in French first."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

CATEGORY_LABELS = {
    "vegetables": _l("Légumes"),
    "fruits": _l("Fruits"),
    "dairy": _l("Produits laitiers"),
    "meat": _l("Viande"),
    "eggs": _l("Œufs"),
    "honey": _l("Miel"),
    "grains": _l("Céréales et farines"),
    "drinks": _l("Boissons"),
    "plants": _l("Plants"),
    "other": _l("Autre"),
}

UNIT_LABELS = {
    "kg": _l("kg"),
    "piece": _l("pièce"),
    "bunch": _l("botte"),
    "litre": _l("litre"),
    "crate": _l("cagette"),
}

UNIT_PLURALS = {
    "kg": _l("kg"),
    "piece": _l("pièces"),
    "bunch": _l("bottes"),
    "litre": _l("litres"),
    "crate": _l("cagettes"),
}


def takes_plural(amount, language: str) -> bool:
    """French puts the plural from 2 on (« 1,5 litre »); English everywhere but exactly one."""
    return amount >= 2 if language == "fr" else amount != 1


def unit_label(unit: str, amount, language: str) -> str:
    names = UNIT_PLURALS if takes_plural(amount, language) else UNIT_LABELS
    return str(names.get(unit, unit))


LABEL_LABELS = {
    "organic": _l("Bio (AB)"),
    "conversion": _l("En conversion bio"),
    "aop": _l("AOP"),
    "aoc": _l("AOC"),
    "igp": _l("IGP"),
    "label_rouge": _l("Label Rouge"),
    "hve": _l("HVE"),
    "nature_progres": _l("Nature & Progrès"),
    "demeter": _l("Demeter"),
    "bienvenue_ferme": _l("Bienvenue à la ferme"),
    "fermier": _l("Fermier"),
}

LOT_STATUS_LABELS = {
    "published": _l("En vente"),
    "sold_out": _l("Épuisé"),
    "withdrawn": _l("Retiré"),
    "expired": _l("Terminé"),
}

RESERVATION_STATUS_LABELS = {
    "pending": _l("En attente"),
    "confirmed": _l("Confirmée"),
    "collected": _l("Retirée à la ferme"),
    "declined": _l("Refusée"),
    "cancelled": _l("Annulée"),
    "expired": _l("Expirée"),
    "no_show": _l("Non retirée"),
}

WEEKDAY_LABELS = {
    "mon": _l("Lundi"),
    "tue": _l("Mardi"),
    "wed": _l("Mercredi"),
    "thu": _l("Jeudi"),
    "fri": _l("Vendredi"),
    "sat": _l("Samedi"),
    "sun": _l("Dimanche"),
}

ROLE_LABELS = {
    "producer": _l("Producteur"),
    "trader": _l("Acheteur professionnel"),
    "chamber": _l("Chambre consulaire"),
    "admin": _l("Administration"),
}


def as_strings(labels: dict) -> dict[str, str]:
    """Lazy labels resolved in the current language, for JSON handed to the pages' scripts."""
    return {key: str(value) for key, value in labels.items()}
