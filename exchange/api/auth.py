"""Accounts over the API: sign-up, tokens, one's own profile."""
from flask import abort, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from exchange.api.access import bearer_token, public, signed_in
from exchange.api.schemas import MePatch, RegisterIn, TokenIn, TokenOut, UserOut
from exchange.domain import accounts
from exchange.extensions import limiter

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Accounts and API tokens")


def _login_email() -> str:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return "account:" + accounts.normalize_email(email) if isinstance(email, str) else "account:?"


def _per_account_limit():
    return current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"]


def _per_address_limit():
    return current_app.config["LOGIN_RATE_LIMIT_ADDRESS"]


def _failed(response) -> bool:
    """Only failed sign-ins count towards the limits: a busy shared address can still sign in."""
    return response.status_code == 401


@blp.route("/auth/register")
class Register(MethodView):
    @public
    @limiter.limit(_per_address_limit)
    @blp.arguments(RegisterIn)
    @blp.response(201, UserOut)
    def post(self, data):
        """Sign up as a producer or a trader."""
        return accounts.register(**data)


@blp.route("/auth/tokens")
class Tokens(MethodView):
    @public
    @limiter.limit(_per_address_limit, deduct_when=_failed)
    @limiter.limit(_per_account_limit, key_func=_login_email, deduct_when=_failed)
    @blp.arguments(TokenIn)
    @blp.response(201, TokenOut)
    def post(self, data):
        """Exchange an e-mail and password for a bearer token (failed attempts are rate-limited)."""
        user = accounts.authenticate(data["email"], data["password"])
        if user is None:
            abort(401)
        return {"token": accounts.issue_token(user), "user": user}

    @blp.response(204)
    def delete(self):
        """Revoke the bearer token used for this call."""
        signed_in()
        accounts.revoke_token(bearer_token() or "")


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserOut)
    def get(self):
        """One's own profile."""
        return signed_in()

    @blp.arguments(MePatch)
    @blp.response(200, UserOut)
    def patch(self, data):
        """Change one's own profile; a trader's base is the default centre of their watches."""
        return accounts.update_profile(signed_in(), data)
