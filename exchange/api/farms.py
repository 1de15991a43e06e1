"""Farms over the API."""
from flask.views import MethodView
from flask_smorest import Blueprint

from exchange.api.access import roles, with_role
from exchange.api.schemas import FarmIn, FarmOut, FarmPatch
from exchange.domain import farms

blp = Blueprint("farms", __name__, url_prefix="/api/v1", description="Producers' farms")


@blp.route("/farms")
class Farms(MethodView):
    @roles("producer", "admin")
    @blp.response(200, FarmOut(many=True))
    def get(self):
        """The calling producer's farms."""
        return farms.farms_of(with_role("producer", "admin"))

    @roles("producer")
    @blp.arguments(FarmIn)
    @blp.response(201, FarmOut)
    def post(self, data):
        """Set up a farm; without lat/lon it is placed at its commune (unknown postcode: 422)."""
        return farms.create_farm(with_role("producer"), **data)


@blp.route("/farms/<int:farm_id>")
class FarmById(MethodView):
    @blp.response(200, FarmOut)
    def get(self, farm_id):
        """One of one's own farms."""
        return farms.get_own_farm(with_role("producer", "admin"), farm_id)

    @roles("producer", "admin")
    @blp.arguments(FarmPatch)
    @blp.response(200, FarmOut)
    def patch(self, data, farm_id):
        """Change one's own farm."""
        return farms.update_farm(with_role("producer", "admin"), farm_id, data)
