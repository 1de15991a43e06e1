"""Reservations over the API: reserve, follow, confirm, decline, cancel, collect."""
from __future__ import annotations

import io

import segno
from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from exchange.api import PAGINATION
from exchange.api.access import roles, signed_in, with_role
from exchange.api.schemas import CollectIn, ReservationDetail, ReservationIn, ReservationOut, ReservationQuery
from exchange.domain import reservations
from exchange.feed import publish
from exchange.models import Reservation, User

blp = Blueprint("reservations", __name__, url_prefix="/api/v1", description="Reservations for pickup at the farm")


def shown_to(user: User, reservation: Reservation) -> Reservation:
    """The pickup code is for the trader who reserved: the producer types what the trader shows."""
    if reservation.trader_id == user.id:
        reservation.visible_pickup_code = reservation.pickup_code
    return reservation


def reservation_out(user: User, reservation: Reservation) -> dict:
    """`ReservationOut().dump(shown_to(user, reservation))`, the same dict, without marshmallow: it is the feed's
    payload plus the code (tests/api/test_reservations.py compares them), for the busiest call of the API."""
    body = publish.reservation_payload(reservation)
    if reservation.trader_id == user.id:
        body["pickup_code"] = reservation.pickup_code
    return body


@blp.route("/lots/<int:lot_id>/reservations")
class LotReservations(MethodView):
    @roles("trader")
    @blp.arguments(ReservationIn)
    @blp.response(201, ReservationOut)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 80},
                          "description": "A retried request with the same key answers the same reservation."}])
    def post(self, data, lot_id):
        """Hold part of a lot for pickup at the farm; 409 when the stock is short."""
        trader = with_role("trader")
        reservation = reservations.reserve(lot_id, trader, data["quantity"], data.get("pickup_at"),
                                           idempotency_key=request.headers.get("Idempotency-Key"))
        return jsonify(reservation_out(trader, reservation)), 201


@blp.route("/reservations")
class Reservations(MethodView):
    @blp.arguments(ReservationQuery, location="query", as_kwargs=True)
    @blp.response(200, ReservationOut(many=True))
    @blp.paginate(**PAGINATION)
    def get(self, pagination_parameters, **filters):
        """A trader's own reservations, or those on a producer's farms; newest first."""
        user = signed_in()
        found = reservations.list_reservations(user, page=pagination_parameters.page,
                                               page_size=pagination_parameters.page_size, **filters)
        pagination_parameters.item_count = found.total
        return [shown_to(user, reservation) for reservation in found.items]


@blp.route("/reservations/<int:reservation_id>")
class ReservationById(MethodView):
    @blp.response(200, ReservationDetail)
    def get(self, reservation_id):
        """One reservation with its history, for its trader or the producer of its farm."""
        user = signed_in()
        return shown_to(user, reservations.get_reservation(reservation_id, user))


@blp.route("/reservations/<int:reservation_id>/confirm", methods=["POST"])
@roles("producer")
@blp.response(200, ReservationOut)
def confirm(reservation_id):
    """The producer accepts a pending hold (409 once it has ended or expired)."""
    return reservations.confirm(reservation_id, with_role("producer"))


@blp.route("/reservations/<int:reservation_id>/decline", methods=["POST"])
@roles("producer")
@blp.response(200, ReservationOut)
def decline(reservation_id):
    """The producer refuses a pending hold; the quantity is on offer again."""
    return reservations.decline(reservation_id, with_role("producer"))


@blp.route("/reservations/<int:reservation_id>/cancel", methods=["POST"])
@roles("trader")
@blp.response(200, ReservationOut)
def cancel(reservation_id):
    """The trader gives up a pending or confirmed reservation before its pickup time."""
    trader = with_role("trader")
    return shown_to(trader, reservations.cancel(reservation_id, trader))


@blp.route("/reservations/<int:reservation_id>/collect", methods=["POST"])
@roles("producer")
@blp.arguments(CollectIn)
@blp.response(200, ReservationOut)
def collect(data, reservation_id):
    """The producer hands the goods over on the trader's pickup code (422 wrong code, 429 after too many)."""
    return reservations.collect(reservation_id, with_role("producer"), data["code"])


@blp.route("/reservations/<int:reservation_id>/qr.svg")
@roles("trader")
@blp.doc(responses={"200": {"description": "The pickup code as a QR code (its content is the code itself)",
                            "content": {"image/svg+xml": {"schema": {"type": "string"}}}}})
def pickup_qr(reservation_id):
    """The pickup code as a QR code, for the reserving trader's screen."""
    code = reservations.pickup_code_for(reservation_id, with_role("trader"))
    out = io.BytesIO()
    # A full QR code (not a Micro QR, which many phone readers ignore), medium error correction for worn screens.
    segno.make_qr(code, error="m").save(out, kind="svg", scale=8, border=2, title=f"Carreau {code}")
    return Response(out.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "private, no-store"})
