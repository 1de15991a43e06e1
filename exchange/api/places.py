"""French communes from the offline gazetteer, for autocomplete and "use my location"."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from exchange.api.access import signed_in
from exchange.api.fields import Latitude, Longitude
from exchange.geo import gazetteer

blp = Blueprint("places", __name__, url_prefix="/api/v1",
                description="French communes (offline gazetteer). Sources: INSEE (Code officiel géographique), "
                            "IGN (Admin Express), La Poste (base officielle des codes postaux, ODbL).")


class PlaceQuery(Schema):
    q = fields.String(validate=validate.Length(1, 80),
                      metadata={"description": "A postcode (or its start) or a commune name; accents optional."})
    lat = Latitude(metadata={"description": "With lon and no q: the commune nearest to this point."})
    lon = Longitude()
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 50))

    @validates_schema
    def _one_question(self, data, **kwargs):
        if "q" not in data and ("lat" not in data or "lon" not in data):
            raise ValidationError("Give q, or lat and lon.", "q")


class PlaceOut(Schema):
    insee = fields.String()
    name = fields.String()
    postcodes = fields.List(fields.String())
    department = fields.String()
    region = fields.String()
    lat = fields.Float()
    lon = fields.Float()


@blp.route("/places")
class Places(MethodView):
    @blp.arguments(PlaceQuery, location="query")
    @blp.response(200, PlaceOut(many=True))
    def get(self, query):
        """Communes matching a postcode or a name, best first; or the one nearest to lat/lon."""
        signed_in()
        if "q" in query:
            return gazetteer.search(query["q"], limit=query["limit"])
        nearest = gazetteer.nearest(query["lat"], query["lon"])
        return [nearest] if nearest else []
