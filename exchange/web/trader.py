"""The trader's pages: the live board, watches on a map, reservations with their pickup code."""
from __future__ import annotations

from decimal import Decimal

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from exchange.api.schemas import WatchOut
from exchange.domain import reservations, watches
from exchange.domain.errors import DomainError, Forbidden, NotFound
from exchange.geo import gazetteer, places
from exchange.web import queries
from exchange.web.forms import ActionForm, WatchForm
from exchange.web.pages import bp, form_error, role_required

trader_only = role_required("trader")


@bp.get("/trader/reservations")
@trader_only
def trader_reservations():
    """One's reservations: the pickup code and its QR code to show at the farm, live status changes.

    `?fragment=1` answers the list alone, for the page's script to swap in when the feed says so.
    """
    feed_seq = queries.feed_position()
    inbox = queries.reservations_inbox(current_user)
    template = "trader/_reservations.html" if request.args.get("fragment") else "trader/reservations.html"
    return render_template(template, inbox=inbox, feed_seq=feed_seq)


@bp.post("/trader/reservations/<int:reservation_id>/cancel")
@trader_only
def reservation_cancel(reservation_id: int):
    if ActionForm().validate_on_submit():
        try:
            reservation = reservations.cancel(reservation_id, current_user)
        except (NotFound, Forbidden):
            raise  # someone else's reservation: an error page, as the API answers
        except DomainError as exc:
            flash(str(exc.message), "error")
        else:
            flash(_("Réservation annulée : %(product)s.", product=reservation.lot.product), "info")
    return redirect(url_for("web.trader_reservations"))


@bp.get("/trader/board")
@trader_only
def board():
    """The live board: lots matching one's watches, in a list and on a map, updated as they come.

    `?format=json` answers the board's data alone, for the page's script after a `resync`.
    """
    feed_seq = queries.feed_position()  # read first: the feed resumes after it, so nothing falls between
    data = queries.board(current_user) | {"feed_seq": feed_seq, "base": current_user.base}
    if request.args.get("format") == "json":
        return data
    return render_template("trader/board.html", data=data, tile_url=current_app.config["MAP_TILE_URL"])


# --- watches ---------------------------------------------------------------------------------------

def _watch_centre(form: WatchForm) -> tuple[float | None, float | None]:
    """The map's point when one was picked, else the commune of the postcode; (None, None): the base."""
    point = form.coordinates()
    if point:
        return point
    if form.postcode.data:
        place = places.locate(postcode=form.postcode.data, commune=form.commune.data or None)
        return place.lat, place.lon
    return None, None


def _fill(form: WatchForm, watch) -> None:
    form.name.data, form.q.data = watch.name, watch.q
    form.radius_km.data = Decimal(str(watch.radius_km))
    form.categories.data, form.labels.data = watch.categories, watch.labels
    form.max_price.data = Decimal(watch.max_price_cents) / 100 if watch.max_price_cents is not None else None
    form.min_quantity.data = watch.min_quantity
    form.lat.data, form.lon.data = f"{watch.lat:.5f}", f"{watch.lon:.5f}"


@bp.route("/trader/watches", methods=["GET", "POST"])
@trader_only
def watches_page():
    """One's watches on a map, and the form to add one (or change the one being edited)."""
    editing = request.args.get("edit", type=int)
    watch = watches.get_own_watch(current_user, editing) if editing else None
    form = WatchForm()
    if request.method == "GET":
        if watch is not None:
            _fill(form, watch)
        else:
            form.radius_km.data = Decimal(30)
    if form.validate_on_submit():
        try:
            lat, lon = _watch_centre(form)
            fields = form.watch_fields()
            if watch is None:
                watches.create_watch(current_user, lat=lat, lon=lon, **fields)
                flash(_("Alerte créée : les lots qui y correspondent arrivent dans le direct."), "success")
            else:
                changes = fields | ({"lat": lat, "lon": lon} if lat is not None else {})
                watches.update_watch(current_user, watch.id, changes)
                flash(_("Alerte mise à jour."), "success")
        except (NotFound, Forbidden):
            raise
        except DomainError as exc:
            if exc.errors and {"lat", "lon"} & exc.errors.keys():
                exc.errors = {"postcode": exc.errors.get("lat") or exc.errors.get("lon")}
            form_error(form, exc)
        else:
            return redirect(url_for("web.watches_page"))
    own = watches.list_watches(current_user, page=1, page_size=watches.MAX_WATCHES_PER_TRADER).items
    return render_template("trader/watches.html", form=form, editing=watch, watches=own,
                           data={"watches": WatchOut(many=True).dump(own), "base": current_user.base,
                                 "editing": watch.id if watch else None},
                           places=[_place_name(w) for w in own], tile_url=current_app.config["MAP_TILE_URL"]), \
        200 if not form.errors else 422


def _place_name(watch) -> str:
    """« Cahors » for a watch centred there: what people call the centre of a circle."""
    commune = gazetteer.nearest(watch.lat, watch.lon)
    return commune.name if commune else f"{watch.lat:.3f}, {watch.lon:.3f}"


@bp.post("/trader/watches/<int:watch_id>/toggle")
@trader_only
def watch_toggle(watch_id: int):
    if ActionForm().validate_on_submit():
        watch = watches.get_own_watch(current_user, watch_id)
        watches.update_watch(current_user, watch_id, {"active": not watch.active})
        flash(_("Alerte réactivée.") if not watch.active else _("Alerte en pause : elle ne reçoit plus rien."), "info")
    return redirect(url_for("web.watches_page"))


@bp.post("/trader/watches/<int:watch_id>/delete")
@trader_only
def watch_delete(watch_id: int):
    if ActionForm().validate_on_submit():
        watches.delete_watch(current_user, watch_id)
        flash(_("Alerte supprimée."), "info")
    return redirect(url_for("web.watches_page"))
