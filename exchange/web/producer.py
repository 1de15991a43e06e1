"""The producer's phone: farm set-up, « my lots » with one-tap stock steps, a new lot in seconds."""
from __future__ import annotations

import secrets
from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from wtforms.fields.choices import SelectChoice

from exchange.api.fields import PickupHours
from exchange.domain import farms, lots, reservations
from exchange.domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from exchange.models.types import utcnow
from exchange.web import catalogue, queries
from exchange.web.forms import (ActionForm, CollectForm, FarmForm, LotForm, StockStepForm, fill_pickup_hours,
                                pickup_hours_from)
from exchange.web.pages import bp, form_error, role_required

producer_only = role_required("producer", "admin")

# The gazetteer speaks English; the farm form says it the producer's way.
_PLACE_MESSAGES = {
    "invalid_postcode": lambda: _("Un code postal compte cinq chiffres."),
    "unknown_postcode": lambda: _("Ce code postal n'existe pas."),
    "ambiguous_postcode": lambda: _("Plusieurs communes partagent ce code postal : choisissez la vôtre."),
    "unknown_commune": lambda: _("Cette commune n'a pas ce code postal : choisissez-en une dans la liste."),
}


def _farm_fields(form: FarmForm) -> dict:
    hours = pickup_hours_from(form)
    try:
        hours = PickupHours().deserialize(hours)
    except ValidationError as exc:
        days = ", ".join(str(form[f"hours_{day}"].label.text) for day in exc.messages)
        raise InvalidInput(_("Horaires à écrire comme 08:00-12:00, 14:00-18:00 (%(days)s).", days=days),
                           errors={f"hours_{day}": ["Not a time range."] for day in exc.messages}) from None
    fields = {"name": form.name.data, "postcode": form.postcode.data, "commune": form.commune.data or None,
              "address": (form.address.data or "").strip() or None,
              "siret": form.siret.data or None, "pickup_instructions": form.pickup_instructions.data or None,
              "pickup_hours": hours}
    point = form.coordinates()
    if point:
        fields["lat"], fields["lon"] = point
    return fields


def _place_error(form: FarmForm, exc: DomainError) -> list[dict]:
    """Show a location error in French on the postcode or commune; return the communes to choose from."""
    if exc.code in _PLACE_MESSAGES:
        field = form.commune if exc.code in ("ambiguous_postcode", "unknown_commune") else form.postcode
        field.errors = list(field.errors) + [_PLACE_MESSAGES[exc.code]()]
    else:
        form_error(form, exc)
    return exc.extra.get("choices", [])


@bp.get("/producer/farm")
@producer_only
def my_farm():
    """The producer's farm page (the first one when they have several)."""
    own_farms = farms.farms_of(current_user)
    if not own_farms:
        return redirect(url_for("web.farm_new"))
    return redirect(url_for("web.farm_edit", farm_id=own_farms[0].id))


@bp.route("/producer/farms/new", methods=["GET", "POST"])
@producer_only
def farm_new():
    """Set up a farm: where it is (postcode, or « use my location ») and when traders can collect."""
    form = FarmForm()
    choices = []
    if form.validate_on_submit():
        try:
            farm = farms.create_farm(current_user, **_farm_fields(form))
        except DomainError as exc:
            choices = _place_error(form, exc)
        else:
            flash(_("Ferme enregistrée : %(name)s, %(commune)s.", name=farm.name, commune=farm.commune), "success")
            return redirect(url_for("web.lot_new"))
    return render_template("producer/farm.html", form=form, farm=None, choices=choices), 200 if not form.errors else 422


@bp.route("/producer/farms/<int:farm_id>", methods=["GET", "POST"])
@producer_only
def farm_edit(farm_id: int):
    farm = farms.get_own_farm(current_user, farm_id)
    form = FarmForm(obj=farm)
    if request.method == "GET":
        fill_pickup_hours(form, farm.pickup_hours)
        form.lat.data = form.lon.data = ""
    choices = []
    if form.validate_on_submit():
        changes = _farm_fields(form)
        moved = "lat" in changes or changes["postcode"] != farm.postcode or changes["address"] != farm.address \
            or (changes["commune"] or farm.commune) != farm.commune
        if not moved:
            del changes["postcode"], changes["commune"], changes["address"]  # keep its exact position
        try:
            farms.update_farm(current_user, farm_id, changes)
        except DomainError as exc:
            choices = _place_error(form, exc)
        else:
            flash(_("Ferme mise à jour."), "success")
            return redirect(url_for("web.my_lots"))
    return render_template("producer/farm.html", form=form, farm=farm, choices=choices), 200 if not form.errors else 422


@bp.get("/producer/lots")
@producer_only
def my_lots():
    """Everything on offer, stock steps at a thumb's reach; closed lots of the week below."""
    own_farms = farms.farms_of(current_user)
    if not own_farms:
        return redirect(url_for("web.farm_new"))
    found = queries.producer_lots(current_user)
    now = utcnow()
    open_lots = [lot for lot in found if lot.is_open and lot.available_until > now]
    closed_lots = [lot for lot in found if lot not in open_lots]
    return render_template("producer/lots.html", open_lots=open_lots, closed_lots=closed_lots, farms=own_farms,
                           step_form=StockStepForm(), action_form=ActionForm(), new_key=lambda: secrets.token_urlsafe(12))


@bp.post("/producer/lots/<int:lot_id>/stock")
@producer_only
def lot_stock(lot_id: int):
    """A stock step without scripts (the page's script calls POST /api/v1/lots/<id>/stock instead)."""
    form = StockStepForm()
    if not form.validate_on_submit():
        flash(_("La modification n'a pas été prise en compte : rechargez la page et réessayez."), "error")
        return redirect(url_for("web.my_lots"))
    try:
        if form.sold_out.data:
            lot = lots.step_stock(current_user, lot_id, quantity_available=Decimal(0), request_key=form.key.data or None)
        elif form.delta.data and int(form.delta.data) != 0:
            lot = lots.step_stock(current_user, lot_id, delta=Decimal(int(form.delta.data)),
                                  request_key=form.key.data or None)
        else:
            return redirect(url_for("web.my_lots"))
    except DomainError as exc:
        flash(str(exc.message), "error")
    else:
        flash(_("%(product)s : stock mis à jour.", product=lot.product), "success")
    return redirect(url_for("web.my_lots", _anchor=f"lot-{lot_id}"))


@bp.post("/producer/lots/<int:lot_id>/withdraw")
@producer_only
def lot_withdraw(lot_id: int):
    if ActionForm().validate_on_submit():
        lot = lots.withdraw_lot(current_user, lot_id)
        flash(_("%(product)s retiré de la vente.", product=lot.product), "info")
    return redirect(url_for("web.my_lots"))


def _prefill(form: LotForm, lot) -> None:
    form.farm_id.data = lot.farm_id
    form.product.data, form.category.data, form.unit.data = lot.product, lot.category, lot.unit
    form.quantity.data = lot.quantity_offered
    form.price.data = Decimal(lot.price_cents) / 100
    form.min_order.data = lot.min_order
    form.labels.data = lot.labels
    form.description.data = lot.description


@bp.route("/producer/lots/new", methods=["GET", "POST"])
@producer_only
def lot_new():
    """Post a lot: product suggestions, the last price for that product, or yesterday's lot again."""
    own_farms = farms.farms_of(current_user)
    if not own_farms:
        flash(_("Commencez par indiquer où se trouve votre ferme."), "info")
        return redirect(url_for("web.farm_new"))
    form = LotForm()
    form.farm_id.choices = [SelectChoice(farm.id, f"{farm.name} ({farm.commune})") for farm in own_farms]
    if request.method == "GET":
        form.farm_id.data = own_farms[0].id
        repeat = request.args.get("repeat", type=int)
        if repeat:
            _prefill(form, lots.get_own_lot(current_user, repeat))
    if form.validate_on_submit():
        fields = form.lot_fields(utcnow())
        if fields is not None:
            try:
                lot = lots.post_lot(current_user, **fields)
            except DomainError as exc:
                form_error(form, exc)
            else:
                flash(_("%(product)s est en vente : les acheteurs qui suivent votre secteur le voient déjà.",
                        product=lot.product), "success")
                return redirect(url_for("web.my_lots", _anchor=f"lot-{lot.id}"))
    return render_template("producer/lot_new.html", form=form, memory=queries.product_memory(current_user),
                           suggestions=catalogue.suggestions(), to_repeat=queries.recent_lots_to_repeat(current_user),
                           single_farm=len(own_farms) == 1), 200 if not form.errors else 422


# --- reservations inbox ----------------------------------------------------------------------------

@bp.get("/producer/reservations")
@producer_only
def producer_reservations():
    """Reservations on one's farms: to confirm first, then to hand over, then the week's history.

    `?fragment=1` answers the list alone: the page's script swaps it in when the feed says something changed.
    """
    feed_seq = queries.feed_position()
    inbox = queries.reservations_inbox(current_user)
    template = "producer/_inbox.html" if request.args.get("fragment") else "producer/reservations.html"
    return render_template(template, inbox=inbox, feed_seq=feed_seq)


def _act(reservation_id: int, action, done_message):
    """Run one reservation service; say what happened (`done_message(reservation)`) or why not.

    Someone else's reservation is an error page (404/403, like the API); a move the reservation's state
    forbids (409), a wrong code (422) or too many of them (429) is a message on the inbox.
    """
    try:
        reservation = action()
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        flash(str(exc.message), "error")
    else:
        flash(done_message(reservation), "success")
    return redirect(url_for("web.producer_reservations", _anchor=f"reservation-{reservation_id}"))


@bp.post("/producer/reservations/<int:reservation_id>/confirm")
@producer_only
def reservation_confirm(reservation_id: int):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("web.producer_reservations"))
    return _act(reservation_id, lambda: reservations.confirm(reservation_id, current_user),
                lambda r: _("Réservation confirmée : %(trader)s viendra chercher %(product)s.",
                            trader=r.trader.name, product=r.lot.product))


@bp.post("/producer/reservations/<int:reservation_id>/decline")
@producer_only
def reservation_decline(reservation_id: int):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("web.producer_reservations"))
    return _act(reservation_id, lambda: reservations.decline(reservation_id, current_user),
                lambda r: _("Réservation refusée : la quantité est de nouveau en vente."))


@bp.post("/producer/reservations/<int:reservation_id>/collect")
@producer_only
def reservation_collect(reservation_id: int):
    """The trader is at the farm: the producer types the code the trader shows."""
    form = CollectForm()
    if not form.validate_on_submit():
        flash(_("Saisissez le code de retrait que l'acheteur vous montre."), "error")
        return redirect(url_for("web.producer_reservations", _anchor=f"reservation-{reservation_id}"))
    return _act(reservation_id, lambda: reservations.collect(reservation_id, current_user, form.code.data),
                lambda r: _("Retrait enregistré : %(product)s remis à %(trader)s.",
                            product=r.lot.product, trader=r.trader.name))
