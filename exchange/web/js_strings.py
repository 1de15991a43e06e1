"""The few sentences the pages' scripts show, translated on the server and handed over as JSON."""
from __future__ import annotations

from flask_babel import gettext as _

from exchange.web import labels


def js_strings() -> dict[str, str]:
    return {
        "offline": _("Hors ligne : vos modifications sont gardées sur ce téléphone et partiront au retour du réseau."),
        "pending_one": _("1 modification en attente d'envoi"),
        "pending_many": _("%(n)s modifications en attente d'envoi"),
        "saved": _("Enregistré"),
        "sending": _("Envoi…"),
        "rejected": _("Modification refusée"),
        "session_expired": _("Votre session a expiré : reconnectez-vous, vos modifications en attente seront envoyées."),
        "locating": _("Recherche de votre position…"),
        "located": _("Position trouvée : %(place)s"),
        "location_denied": _("Position indisponible : autorisez la localisation ou saisissez le code postal."),
        "no_commune": _("Aucune commune trouvée."),
        "centre_on_map": _("Centre placé sur la carte."),
        "choose_commune": _("%(n)s communes ont ce code postal : choisissez la vôtre dans la liste."),
        "last_price": _("Dernier prix pour ce produit : %(price)s (le %(date)s)"),
        "connected": _("En direct"),
        "connecting": _("Connexion…"),
        "disconnected": _("Hors ligne — reconnexion automatique"),
        "new_lot": _("Nouveau"),
        "changed_lot": _("Modifié"),
        "reserved": _("Réservé ! Code de retrait %(code)s."),
        "see_reservations": _("Voir mes réservations"),
        "quantity_needed": _("Indiquez une quantité."),
        "offline_retry": _("Pas de réseau : réessayez dans un instant (une même demande n'est comptée qu'une fois)."),
        "available": _("%(quantity)s en stock"),
        "min_order": _("minimum %(quantity)s"),
        "until": _("Disponible jusqu'au %(when)s"),
        "pickup_hours": _("Retrait %(hours)s"),
        "pickup_ask": _("Retrait : horaires à convenir"),
        "one_lot": _("1 lot en vente"),
        "n_lots": _("%(n)s lots en vente"),
        "arrived": _("Nouveau lot : %(product)s à %(price)s"),
        "new_reservation": _("Nouvelle réservation : %(quantity)s de %(product)s"),
        "km": _("km"),
        "chart_offered": _("Proposés"),
        "chart_collected": _("Retirés"),
        "error": _("Une erreur est survenue. Réessayez."),
    }


def js_labels() -> dict[str, dict[str, str]]:
    """Names of the API's machine values (units, statuses, categories) in the page's language."""
    return {"units": labels.as_strings(labels.UNIT_LABELS), "units_plural": labels.as_strings(labels.UNIT_PLURALS),
            "categories": labels.as_strings(labels.CATEGORY_LABELS),
            "lot_status": labels.as_strings(labels.LOT_STATUS_LABELS),
            "reservation_status": labels.as_strings(labels.RESERVATION_STATUS_LABELS),
            "label": labels.as_strings(labels.LABEL_LABELS)}
