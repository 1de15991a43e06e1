"""Watches over the API: a trader's standing searches for the live feed."""
from flask.views import MethodView
from flask_smorest import Blueprint

from exchange.api import PAGINATION
from exchange.api.access import roles, with_role
from exchange.api.schemas import WatchIn, WatchOut, WatchPatch
from exchange.domain import watches

blp = Blueprint("watches", __name__, url_prefix="/api/v1", description="Traders' watches for the live feed")


@blp.route("/watches")
class Watches(MethodView):
    @roles("trader")
    @blp.response(200, WatchOut(many=True))
    @blp.paginate(**PAGINATION)
    def get(self, pagination_parameters):
        """One's own watches, oldest first."""
        found = watches.list_watches(with_role("trader"), page=pagination_parameters.page,
                                     page_size=pagination_parameters.page_size)
        pagination_parameters.item_count = found.total
        return found.items

    @roles("trader")
    @blp.arguments(WatchIn)
    @blp.response(201, WatchOut)
    def post(self, data):
        """Watch a circle (around one's base by default) for lots that fit the filters; the feed uses it at once."""
        return watches.create_watch(with_role("trader"), **data)


@blp.route("/watches/<int:watch_id>")
class WatchById(MethodView):
    @roles("trader")
    @blp.response(200, WatchOut)
    def get(self, watch_id):
        """One of one's own watches."""
        return watches.get_own_watch(with_role("trader"), watch_id)

    @roles("trader")
    @blp.arguments(WatchPatch)
    @blp.response(200, WatchOut)
    def patch(self, data, watch_id):
        """Change one's own watch: centre, radius, filters, name, on/off."""
        return watches.update_watch(with_role("trader"), watch_id, data)

    @roles("trader")
    @blp.response(204)
    def delete(self, watch_id):
        """Delete one's own watch."""
        watches.delete_watch(with_role("trader"), watch_id)
