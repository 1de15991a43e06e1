"""Request and response schemas of the public API (v1)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from exchange.api.fields import MAX_QUANTITY, Cents, Id, Latitude, Longitude, PickupHours, Postcode, Quantity, Text
from exchange.domain.watches import MAX_RADIUS_KM
from exchange.models import CATEGORIES, LABELS, UNITS
from exchange.models.types import utcnow



class BaseIn(Schema):
    postcode = Postcode()
    commune = Text(validate=validate.Length(1, 120))
    lat = Latitude()
    lon = Longitude()


class BaseOut(Schema):
    postcode = Text()
    commune = Text()
    insee = Text()
    lat = fields.Float()
    lon = fields.Float()


class RegisterIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = Text(required=True, load_only=True, validate=validate.Length(max=256))
    role = Text(required=True, validate=validate.OneOf(["producer", "trader"]))
    name = Text(required=True, validate=validate.Length(1, 120))
    phone = Text(validate=validate.Regexp(r"^\+?[0-9 .()-]{6,24}$", error="Not a phone number."))
    locale = Text(validate=validate.OneOf(["fr", "en"]))
    base = fields.Nested(BaseIn)


class UserOut(Schema):
    id = fields.Integer()
    email = Text()
    role = Text()
    name = Text()
    phone = Text(allow_none=True)
    locale = Text()
    base = fields.Nested(BaseOut, allow_none=True)
    territory = fields.List(Text())
    created_at = fields.AwareDateTime()


class MePatch(Schema):
    name = Text(validate=validate.Length(1, 120))
    phone = Text(allow_none=True, validate=validate.Regexp(r"^\+?[0-9 .()-]{6,24}$", error="Not a phone number."))
    locale = Text(validate=validate.OneOf(["fr", "en"]))
    password = Text(load_only=True, validate=validate.Length(max=256))
    base = fields.Nested(BaseIn, allow_none=True)


class TokenIn(Schema):
    email = Text(required=True, validate=validate.Length(1, 254))
    password = Text(required=True, load_only=True, validate=validate.Length(max=256))


class TokenOut(Schema):
    token = Text()
    user = fields.Nested(UserOut)


class FarmIn(Schema):
    name = Text(required=True, validate=validate.Length(1, 120))
    address = Text(allow_none=True, validate=validate.Length(max=200),
                   metadata={"description": "Street address; placed at street level when GEOCODER=ban."})
    postcode = Postcode(required=True)
    commune = Text(validate=validate.Length(1, 120))
    lat = Latitude()
    lon = Longitude()
    siret = Text(allow_none=True, validate=validate.Length(max=20))
    pickup_instructions = Text(allow_none=True, multiline=True, validate=validate.Length(max=2000))
    pickup_hours = PickupHours()


class FarmPatch(FarmIn):
    """Any subset of a farm's fields (used with partial=True)."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class FarmOut(Schema):
    id = fields.Integer()
    owner_id = fields.Integer()
    name = Text()
    siret = Text(allow_none=True)
    address = Text(allow_none=True)
    postcode = Text()
    commune = Text()
    insee = Text()
    department = Text()
    lat = fields.Float()
    lon = fields.Float()
    pickup_instructions = Text(allow_none=True)
    pickup_hours = fields.Dict(keys=Text(), values=fields.List(Text()))
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class FarmBrief(Schema):
    id = fields.Integer()
    name = Text()
    commune = Text()
    postcode = Text()
    department = Text()
    lat = fields.Float()
    lon = fields.Float()
    pickup_hours = fields.Dict(keys=Text(), values=fields.List(Text()))
    pickup_instructions = Text(allow_none=True)


def _future(value):
    if value <= utcnow():
        raise ValidationError("Must be in the future.")


class LotIn(Schema):
    farm_id = Id(required=True, strict=True)
    product = Text(required=True, validate=validate.Length(1, 120))
    category = Text(required=True, validate=validate.OneOf(CATEGORIES))
    unit = Text(required=True, validate=validate.OneOf(UNITS))
    quantity = Quantity(required=True, strict_positive=True)
    price_cents = Cents(required=True)
    available_until = fields.AwareDateTime(required=True, validate=_future)
    available_from = fields.AwareDateTime()
    min_order = Quantity(allow_none=True, strict_positive=True)
    labels = fields.List(Text(validate=validate.OneOf(LABELS)), validate=validate.Length(max=len(LABELS)))
    description = Text(allow_none=True, multiline=True, validate=validate.Length(max=2000))

    @validates_schema
    def _window(self, data, **kwargs):
        start, end = data.get("available_from"), data.get("available_until")
        if start and end and start >= end:
            raise ValidationError("Must be before available_until.", "available_from")
        if data.get("min_order") and data.get("quantity") and data["min_order"] > data["quantity"]:
            raise ValidationError("Cannot exceed the quantity.", "min_order")


class LotPatch(Schema):
    product = Text(validate=validate.Length(1, 120))
    category = Text(validate=validate.OneOf(CATEGORIES))
    quantity_available = Quantity()
    price_cents = Cents()
    available_until = fields.AwareDateTime(validate=_future)
    available_from = fields.AwareDateTime()
    min_order = Quantity(allow_none=True, strict_positive=True)
    labels = fields.List(Text(validate=validate.OneOf(LABELS)), validate=validate.Length(max=len(LABELS)))
    description = Text(allow_none=True, multiline=True, validate=validate.Length(max=2000))


class StockStepIn(Schema):
    """Either a step (`delta`, e.g. -1, +5) applied to what is left, or a new `quantity_available` (0: sold out)."""

    delta = Quantity(minimum=-MAX_QUANTITY)
    quantity_available = Quantity()

    @validates_schema
    def _one_of(self, data, **kwargs):
        if ("delta" in data) == ("quantity_available" in data):
            raise ValidationError("Give delta or quantity_available, not both.", "delta")
        if data.get("delta") == 0:
            raise ValidationError("A step cannot be zero.", "delta")


class LotQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    lat = Latitude()
    lon = Longitude()
    radius_km = fields.Float(allow_nan=False, validate=validate.Range(0, 500, min_inclusive=False))
    category = fields.List(Text(validate=validate.OneOf(CATEGORIES)))
    q = Text(validate=validate.Length(1, 80))
    max_price_cents = Cents(strict=False)
    label = fields.List(Text(validate=validate.OneOf(LABELS)))
    farm_id = Id()
    status = fields.List(Text(validate=validate.OneOf(["published", "sold_out", "withdrawn", "expired"])))
    sort = Text(validate=validate.OneOf(["distance", "price", "recent", "ending"]))

    @validates_schema
    def _centre(self, data, **kwargs):
        if ("lat" in data) != ("lon" in data):
            raise ValidationError("lat and lon go together.", "lon" if "lat" in data else "lat")
        if "radius_km" in data and "lat" not in data:
            raise ValidationError("radius_km needs lat and lon.", "radius_km")
        if data.get("sort") == "distance" and "lat" not in data:
            raise ValidationError("Sorting by distance needs lat and lon.", "sort")


class LotOut(Schema):
    id = fields.Integer()
    farm_id = fields.Integer()
    farm = fields.Nested(FarmBrief)
    product = Text()
    category = Text()
    unit = Text()
    quantity = Quantity(attribute="quantity_offered")
    quantity_available = Quantity()
    price_cents = fields.Integer()
    min_order = Quantity(allow_none=True)
    available_from = fields.AwareDateTime()
    available_until = fields.AwareDateTime()
    labels = fields.List(Text())
    description = Text(allow_none=True)
    status = Text()
    lat = fields.Float()
    lon = fields.Float()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    distance_km = fields.Float(dump_only=True, metadata={"description": "From the query's lat/lon, when given."})


class ReservationIn(Schema):
    quantity = Quantity(required=True, strict_positive=True)
    pickup_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When the trader will come; must fall in the farm's pickup hours and the lot's window."})


class CollectIn(Schema):
    code = Text(required=True, validate=validate.Length(1, 32),
                metadata={"description": "The pickup code the trader shows (or its QR code's content)."})


class ReservationQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.List(Text(validate=validate.OneOf(["pending", "confirmed", "collected", "declined", "cancelled",
                                                       "expired", "no_show"])))
    lot_id = Id()
    farm_id = Id()


class LotBrief(Schema):
    id = fields.Integer()
    product = Text()
    category = Text()
    unit = Text()
    status = Text()
    available_until = fields.AwareDateTime()
    farm = fields.Nested(FarmBrief)


class TraderBrief(Schema):
    id = fields.Integer()
    name = Text()


class ReservationOut(Schema):
    id = fields.Integer()
    lot_id = fields.Integer()
    trader_id = fields.Integer()
    quantity = Quantity()
    price_cents = fields.Integer()
    status = Text()
    # Read from an attribute the API sets for the reserving trader only: everyone else never gets the field.
    pickup_code = Text(attribute="visible_pickup_code", metadata={"description": "Shown to the reserving trader only."})
    pickup_at = fields.AwareDateTime(allow_none=True)
    hold_expires_at = fields.AwareDateTime(allow_none=True)
    distance_km = fields.Float(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    closed_at = fields.AwareDateTime(allow_none=True)
    lot = fields.Nested(LotBrief)
    trader = fields.Nested(TraderBrief)


class TransitionOut(Schema):
    from_status = Text(allow_none=True)
    to_status = Text()
    actor_id = fields.Integer(allow_none=True)
    at = fields.AwareDateTime()


class ReservationDetail(ReservationOut):
    transitions = fields.List(fields.Nested(TransitionOut))


class WatchIn(Schema):
    lat = Latitude(metadata={"description": "Centre; with lon. Both omitted: the trader's base."})
    lon = Longitude()
    radius_km = fields.Float(required=True, allow_nan=False,
                             validate=validate.Range(0, MAX_RADIUS_KM, min_inclusive=False))
    categories = fields.List(Text(validate=validate.OneOf(CATEGORIES)), validate=validate.Length(max=len(CATEGORIES)),
                             metadata={"description": "Empty or absent: every category."})
    q = Text(allow_none=True, validate=validate.Length(max=80),
             metadata={"description": "Words that must each start a word of the product, accents ignored."})
    max_price_cents = Cents(allow_none=True)
    labels = fields.List(Text(validate=validate.OneOf(LABELS)), validate=validate.Length(max=len(LABELS)),
                         metadata={"description": "The lot must carry all of them."})
    min_quantity = Quantity(allow_none=True, strict_positive=True,
                            metadata={"description": "Compared with the quantity offered."})
    name = Text(allow_none=True, validate=validate.Length(max=80))
    active = fields.Boolean()

    @validates_schema
    def _centre(self, data, **kwargs):
        if ("lat" in data) != ("lon" in data):
            raise ValidationError("lat and lon go together.", "lon" if "lat" in data else "lat")


class WatchPatch(WatchIn):
    """Any subset of a watch's fields; lat and lon together (both null: back to the base)."""

    lat = Latitude(allow_none=True)
    lon = Longitude(allow_none=True)

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class WatchOut(Schema):
    id = fields.Integer()
    name = Text(allow_none=True)
    lat = fields.Float()
    lon = fields.Float()
    radius_km = fields.Float()
    categories = fields.List(Text())
    q = Text(allow_none=True)
    max_price_cents = fields.Integer(allow_none=True)
    labels = fields.List(Text())
    min_quantity = Quantity(allow_none=True)
    active = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
