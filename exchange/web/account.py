"""Signing up, in and out, the language switch and one's profile."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user

from exchange.domain import accounts
from exchange.domain.errors import DomainError
from exchange.extensions import limiter
from exchange.web.forms import ActionForm, LanguageForm, LoginForm, ProfileForm, SignupForm
from exchange.web.pages import bp, form_error, home_url, safe_next


@bp.get("/")
def index():
    """The front page: what Carreau is; signed-in people go straight to their own home page."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return render_template("index.html")


def _login_account_key() -> str:
    return "account:" + accounts.normalize_email(request.form.get("email", "") or "?")


def _failed_sign_in(response) -> bool:
    return bool(g.get("sign_in_failed"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"], methods=["POST"],
               deduct_when=_failed_sign_in)
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], methods=["POST"],
               key_func=_login_account_key, deduct_when=_failed_sign_in)
def login():
    """Sign in with e-mail and password; failed attempts are limited like the API's."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            g.sign_in_failed = True
            form.form_errors.append(_("Adresse e-mail ou mot de passe incorrect."))
        else:
            login_user(user, remember=form.remember.data)
            session.pop("locale", None)  # the account's language now applies
            refresh()
            return redirect(safe_next(form.next.data, home_url(user)))
    return render_template("account/login.html", form=form), 200 if not form.errors else 422


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"], methods=["POST"])
def signup():
    """Producers and traders sign up themselves; the account starts in the language of the page."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = SignupForm(role=request.args.get("role"))
    if form.validate_on_submit():
        base = {"postcode": form.postcode.data} if form.role.data == "trader" and form.postcode.data else None
        try:
            user = accounts.register(email=form.email.data, password=form.password.data, role=form.role.data,
                                     name=form.name.data, phone=form.phone.data or None,
                                     locale=_page_language(), base=base)
        except DomainError as exc:
            if "base.postcode" in (exc.errors or {}):
                exc.errors = {"postcode": exc.errors["base.postcode"]}
            form_error(form, exc)
        else:
            login_user(user, remember=True)
            flash(_("Bienvenue sur Carreau, %(name)s !", name=user.name), "success")
            if user.role == "producer":
                return redirect(url_for("web.farm_new"))
            return redirect(home_url(user))
    return render_template("account/signup.html", form=form), 200 if not form.errors else 422


@bp.post("/logout")
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        logout_user()
        flash(_("Vous êtes déconnecté."), "info")
    return redirect(url_for("web.index"))


def _page_language() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale is not None and locale.language in ("fr", "en") else "fr"


@bp.post("/language")
def language():
    """Switch the language: remembered on the account when signed in, in the session otherwise."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            accounts.update_profile(current_user, {"locale": form.locale.data})
        refresh()
    return redirect(safe_next(form.next.data, url_for("web.index")))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """One's name, phone, language and, for a trader, the base that centres new watches."""
    user = current_user._get_current_object()
    form = ProfileForm(obj=user, postcode=user.base_postcode, commune=user.base_commune)
    if form.validate_on_submit():
        changes = {"name": form.name.data, "phone": form.phone.data or None, "locale": form.locale.data}
        if user.has_role("trader"):
            changes["base"] = {"postcode": form.postcode.data, "commune": form.commune.data or None} \
                if form.postcode.data else None
        try:
            accounts.update_profile(user, changes)
        except DomainError as exc:
            if exc.errors:
                exc.errors = {key.replace("base.", ""): value for key, value in exc.errors.items()}
            form_error(form, exc)
        else:
            session["locale"] = user.locale
            refresh()
            flash(_("Profil enregistré."), "success")
            return redirect(url_for("web.account"))
    return render_template("account/profile.html", form=form), 200 if not form.errors else 422
