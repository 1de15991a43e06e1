"""Lots over the API."""
from flask.views import MethodView
from flask_smorest import Blueprint

from exchange.api import PAGINATION
from exchange.api.access import roles, signed_in, with_role
from exchange.api.schemas import LotIn, LotOut, LotPatch, LotQuery
from exchange.domain import lots

blp = Blueprint("lots", __name__, url_prefix="/api/v1", description="Lots on offer")


@blp.route("/lots")
class Lots(MethodView):
    @blp.arguments(LotQuery, location="query", as_kwargs=True)
    @blp.response(200, LotOut(many=True))
    @blp.paginate(**PAGINATION)
    def get(self, pagination_parameters, **filters):
        """Lots on offer, newest first or, around lat/lon, nearest first with `distance_km`."""
        signed_in()
        found = lots.lots_near(page=pagination_parameters.page, page_size=pagination_parameters.page_size, **filters)
        pagination_parameters.item_count = found.total
        return found.items

    @roles("producer")
    @blp.arguments(LotIn)
    @blp.response(201, LotOut)
    def post(self, data):
        """Offer a lot from one's own farm; matching traders' feeds receive it at once."""
        return lots.post_lot(with_role("producer"), **data)


@blp.route("/lots/<int:lot_id>")
class LotById(MethodView):
    @blp.response(200, LotOut)
    def get(self, lot_id):
        """One lot, whatever its status."""
        signed_in()
        return lots.get_lot(lot_id)

    @roles("producer", "admin")
    @blp.arguments(LotPatch)
    @blp.response(200, LotOut)
    def patch(self, data, lot_id):
        """Change one's own lot: stock, price, dates, description."""
        return lots.update_lot(with_role("producer", "admin"), lot_id, data)

    @blp.response(204)
    def delete(self, lot_id):
        """Withdraw one's own lot; it stays readable with status `withdrawn`."""
        lots.withdraw_lot(with_role("producer", "admin"), lot_id)
