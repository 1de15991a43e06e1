"""The trader's pages: the live board, watches on a map, reservations with their pickup code."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from exchange.domain import reservations
from exchange.domain.errors import DomainError, Forbidden, NotFound
from exchange.web import queries
from exchange.web.forms import ActionForm
from exchange.web.pages import bp, role_required

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
