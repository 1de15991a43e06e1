"""The pages' forms (Flask-WTF: every form carries its CSRF token). Messages are French msgids."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DateTimeLocalField, EmailField, Field, HiddenField, PasswordField, RadioField,
                     SelectField, SelectMultipleField, StringField, TextAreaField, widgets)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from exchange.domain.accounts import MIN_PASSWORD_LENGTH
from exchange.models import CATEGORIES, LABELS, UNITS
from exchange.models.farms import WEEKDAYS
from exchange.web import labels

PARIS = ZoneInfo("Europe/Paris")
REQUIRED = _l("Ce champ est obligatoire.")


class DecimalText(StringField):
    """A number typed the French way or the English way (« 12,5 », « 1 200 »); an exact Decimal."""

    def __init__(self, label=None, validators=None, places: int = 3, **kwargs):
        kwargs.setdefault("render_kw", {}).setdefault("inputmode", "decimal")
        super().__init__(label, validators, **kwargs)
        self.places = places

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        text = (self.data or "").strip().replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
        text = text.replace("€", "").replace(",", ".")
        if not text:
            self.data = None
            return
        try:
            number = Decimal(text)
        except InvalidOperation:
            self.data = None
            raise ValueError(_l("Indiquez un nombre, par exemple 12,5.")) from None
        if not number.is_finite() or number != number.quantize(Decimal(1).scaleb(-self.places)):
            self.data = None
            raise ValueError(_l("Au plus %(n)s décimales.", n=self.places))
        self.data = number

    def _value(self):
        if isinstance(self.data, Decimal):
            shown = self.data.quantize(Decimal("0.01")) if self.places == 2 else self.data.normalize()
            return format(shown, "f").replace(".", ",")
        return super()._value()


class Positive:
    def __call__(self, form, field):
        if field.data is not None and field.data <= 0:
            raise ValidationError(_l("Indiquez une quantité supérieure à zéro."))


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _choices(values: tuple[str, ...], names: dict) -> list[SelectChoice]:
    return [SelectChoice(value, names[value]) for value in values]


# --- accounts ------------------------------------------------------------------------------------

class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse e-mail"), validators=[DataRequired(REQUIRED), Length(max=254)],
                       render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(REQUIRED), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Rester connecté sur cet appareil"), default=True)
    next = HiddenField()


class SignupForm(FlaskForm):
    role = RadioField(_l("Vous êtes"), choices=[SelectChoice("producer", _l("Producteur : je vends ma production")),
                                                SelectChoice("trader", _l("Acheteur professionnel : je m'approvisionne"))],
                      validators=[InputRequired(_l("Choisissez votre activité."))])
    name = StringField(_l("Nom de la ferme, de l'entreprise ou votre nom"),
                       validators=[DataRequired(REQUIRED), Length(max=120)], render_kw={"autocomplete": "organization"})
    email = EmailField(_l("Adresse e-mail"),
                       validators=[DataRequired(REQUIRED), Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                          message=_l("Cette adresse e-mail n'est pas valide.")),
                                   Length(max=254)],
                       render_kw={"autocomplete": "email", "autocapitalize": "none"})
    password = PasswordField(_l("Mot de passe"), validators=[
        DataRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, max=256,
                                       message=_l("Au moins %(n)s caractères.", n=MIN_PASSWORD_LENGTH))],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD_LENGTH})
    phone = StringField(_l("Téléphone (facultatif)"), validators=[
        Optional(), Regexp(r"^\+?[0-9 .()-]{6,24}$", message=_l("Ce numéro de téléphone n'est pas valide."))],
        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    postcode = StringField(_l("Code postal de votre dépôt ou commerce"), validators=[
        Optional(), Regexp(r"^\d{5}$", message=_l("Un code postal compte cinq chiffres."))],
        render_kw={"inputmode": "numeric", "autocomplete": "postal-code", "maxlength": 5})


class ProfileForm(FlaskForm):
    name = StringField(_l("Nom affiché"), validators=[DataRequired(REQUIRED), Length(max=120)])
    phone = StringField(_l("Téléphone"), validators=[
        Optional(), Regexp(r"^\+?[0-9 .()-]{6,24}$", message=_l("Ce numéro de téléphone n'est pas valide."))],
        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    locale = SelectField(_l("Langue"), choices=[SelectChoice("fr", "Français", {"lang": "fr"}), SelectChoice("en", "English", {"lang": "en"})])
    postcode = StringField(_l("Code postal de votre base"), validators=[
        Optional(), Regexp(r"^\d{5}$", message=_l("Un code postal compte cinq chiffres."))],
        render_kw={"inputmode": "numeric", "autocomplete": "postal-code", "maxlength": 5})
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=120)])


class LanguageForm(FlaskForm):
    locale = HiddenField(validators=[DataRequired(), Regexp(r"^(fr|en)$")])
    next = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes something (sign out, withdraw a lot): only its CSRF token."""


# --- farms ---------------------------------------------------------------------------------------

class FarmForm(FlaskForm):
    name = StringField(_l("Nom de la ferme"), validators=[DataRequired(REQUIRED), Length(max=120)],
                       render_kw={"autocomplete": "organization"})
    postcode = StringField(_l("Code postal"), validators=[
        DataRequired(REQUIRED), Regexp(r"^\d{5}$", message=_l("Un code postal compte cinq chiffres."))],
        render_kw={"inputmode": "numeric", "autocomplete": "postal-code", "maxlength": 5})
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=120)])
    address = StringField(_l("Adresse (facultatif)"), validators=[Optional(), Length(max=200)],
                          render_kw={"autocomplete": "street-address"})
    lat = HiddenField()
    lon = HiddenField()
    siret = StringField(_l("SIRET (facultatif)"), validators=[Optional(), Length(max=20)],
                        render_kw={"inputmode": "numeric"})
    pickup_instructions = TextAreaField(_l("Consignes de retrait"), validators=[Optional(), Length(max=2000)],
                                        render_kw={"rows": 3})

    def coordinates(self) -> tuple[float, float] | None:
        """The point « use my location » found, when it sent one."""
        try:
            lat, lon = float(self.lat.data), float(self.lon.data)
        except (TypeError, ValueError):
            return None
        return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def add_pickup_hour_fields(form_class: type[FlaskForm]) -> type[FlaskForm]:
    for day in WEEKDAYS:
        setattr(form_class, f"hours_{day}", StringField(labels.WEEKDAY_LABELS[day], validators=[Optional()],
                                                        render_kw={"placeholder": _l("pas de retrait")}))
    return form_class


add_pickup_hour_fields(FarmForm)


def pickup_hours_from(form: FarmForm) -> dict[str, list[str]]:
    return {day: [slot.strip() for slot in (getattr(form, f"hours_{day}").data or "").split(",") if slot.strip()]
            for day in WEEKDAYS}


def fill_pickup_hours(form: FarmForm, hours: dict[str, list[str]]) -> None:
    for day in WEEKDAYS:
        getattr(form, f"hours_{day}").data = ", ".join(hours.get(day, []))


# --- lots ----------------------------------------------------------------------------------------

UNTIL_CHOICES = [SelectChoice("tonight", _l("Ce soir")), SelectChoice("tomorrow", _l("Demain soir")),
                 SelectChoice("3d", _l("3 jours")), SelectChoice("7d", _l("1 semaine")),
                 SelectChoice("custom", _l("Autre date"))]
_UNTIL_DAYS = {"tonight": 0, "tomorrow": 1, "3d": 3, "7d": 7}
CLOSING_HOUR = 20  # lots offered « until tonight » stay on until 20:00, Paris time


def until_from_choice(choice: str, now: dt.datetime) -> dt.datetime | None:
    """The end of availability a quick choice stands for: 20:00 Paris time, that many days from now."""
    if choice not in _UNTIL_DAYS:
        return None
    local = now.astimezone(PARIS)
    day = local.date() + dt.timedelta(days=_UNTIL_DAYS[choice])
    return dt.datetime.combine(day, dt.time(CLOSING_HOUR), tzinfo=PARIS).astimezone(dt.timezone.utc)


class LotForm(FlaskForm):
    farm_id = SelectField(_l("Ferme"), coerce=int, validators=[InputRequired(REQUIRED)])
    product = StringField(_l("Produit"), validators=[DataRequired(REQUIRED), Length(max=120)],
                          render_kw={"autocomplete": "off", "list": "product-suggestions", "autocapitalize": "sentences"})
    category = SelectField(_l("Catégorie"), choices=_choices(CATEGORIES, labels.CATEGORY_LABELS))
    unit = SelectField(_l("Unité"), choices=_choices(UNITS, labels.UNIT_LABELS))
    quantity = DecimalText(_l("Quantité"), validators=[InputRequired(REQUIRED), Positive()])
    price = DecimalText(_l("Prix HT"), places=2, validators=[InputRequired(REQUIRED)])
    until = RadioField(_l("Disponible jusqu'à"), choices=UNTIL_CHOICES, default="tomorrow")
    until_at = DateTimeLocalField(_l("Date et heure de fin"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    min_order = DecimalText(_l("Commande minimale (facultatif)"), validators=[Optional(), Positive()])
    labels = MultiCheckboxField(_l("Labels"), choices=_choices(LABELS, labels.LABEL_LABELS))
    description = TextAreaField(_l("Description (facultatif)"), validators=[Optional(), Length(max=2000)],
                                render_kw={"rows": 2})

    def validate_price(self, field: Field) -> None:
        if field.data is not None and not 0 <= field.data <= 100_000:
            raise ValidationError(_l("Indiquez un prix entre 0 et 100 000 €."))

    def available_until(self, now: dt.datetime) -> dt.datetime | None:
        """The chosen end as an aware UTC datetime; None (with an error on the form) when it is not usable."""
        if self.until.data == "custom":
            if self.until_at.data is None:
                self.until_at.errors.append(_l("Indiquez la date et l'heure de fin."))
                return None
            until = self.until_at.data.replace(tzinfo=PARIS).astimezone(dt.timezone.utc)
        else:
            until = until_from_choice(self.until.data, now)
        if until is None or until <= now:
            (self.until_at if self.until.data == "custom" else self.until).errors.append(
                _l("Cette fin de disponibilité est déjà passée."))
            return None
        return until

    def lot_fields(self, now: dt.datetime) -> dict | None:
        until = self.available_until(now)
        if until is None:
            return None
        return {"farm_id": self.farm_id.data, "product": self.product.data.strip(), "category": self.category.data,
                "unit": self.unit.data, "quantity": self.quantity.data,
                "price_cents": int(self.price.data * 100), "available_until": until,
                "min_order": self.min_order.data, "labels": self.labels.data or [],
                "description": (self.description.data or "").strip() or None}


class StockStepForm(FlaskForm):
    """One tap on « −1 », « +5 » or « épuisé » when scripts are off; `key` makes a double submit count once."""

    delta = StringField(validators=[Optional(), Regexp(r"^[+-]?\d+$")])
    sold_out = HiddenField()
    key = HiddenField(validators=[Optional(), Length(max=80)])


class CollectForm(FlaskForm):
    """The code the trader shows at the farm (typed, or read from the QR code by the trader's screen)."""

    code = StringField(_l("Code de retrait"), validators=[DataRequired(REQUIRED), Length(max=32)],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                  "placeholder": "ABC234"})


# --- watches -------------------------------------------------------------------------------------

RADIUS_CHOICES_KM = (10, 20, 30, 50, 80)


class WatchForm(FlaskForm):
    """A trader's watch: a circle (a point on the map, a commune, or the base) and what to look for in it."""

    name = StringField(_l("Nom de l'alerte (facultatif)"), validators=[Optional(), Length(max=80)],
                       render_kw={"placeholder": _l("Par exemple : Légumes bio autour du dépôt")})
    postcode = StringField(_l("Code postal du centre"), validators=[
        Optional(), Regexp(r"^\d{5}$", message=_l("Un code postal compte cinq chiffres."))],
        render_kw={"inputmode": "numeric", "maxlength": 5})
    commune = StringField(_l("Commune"), validators=[Optional(), Length(max=120)])
    lat = HiddenField()
    lon = HiddenField()
    radius_km = DecimalText(_l("Rayon (km)"), places=1, validators=[InputRequired(REQUIRED)],
                            render_kw={"inputmode": "decimal"})
    categories = MultiCheckboxField(_l("Catégories (aucune cochée : toutes)"), choices=_choices(CATEGORIES,
                                                                                               labels.CATEGORY_LABELS))
    q = StringField(_l("Mots-clés du produit (facultatif)"), validators=[Optional(), Length(max=80)],
                    render_kw={"placeholder": _l("Par exemple : tomate"), "autocomplete": "off"})
    max_price = DecimalText(_l("Prix HT maximum par unité (facultatif, €)"), places=2, validators=[Optional()])
    labels = MultiCheckboxField(_l("Labels exigés"), choices=_choices(LABELS, labels.LABEL_LABELS))
    min_quantity = DecimalText(_l("Quantité proposée minimale (facultatif)"), validators=[Optional(), Positive()])

    coordinates = FarmForm.coordinates

    def validate_radius_km(self, field: Field) -> None:
        if field.data is not None and not 0 < field.data <= 200:
            raise ValidationError(_l("Indiquez un rayon entre 1 et 200 km."))

    def validate_max_price(self, field: Field) -> None:
        if field.data is not None and not 0 <= field.data <= 100_000:
            raise ValidationError(_l("Indiquez un prix entre 0 et 100 000 €."))

    def watch_fields(self) -> dict:
        """The watch's fields, without its centre (the view resolves that)."""
        return {"name": self.name.data or None, "radius_km": float(self.radius_km.data),
                "categories": self.categories.data or [], "q": self.q.data or None,
                "max_price_cents": int(self.max_price.data * 100) if self.max_price.data is not None else None,
                "labels": self.labels.data or [], "min_quantity": self.min_quantity.data}


# --- chamber -------------------------------------------------------------------------------------

class ReportForm(FlaskForm):
    """The dashboard's period and department: a GET form (bookmarkable, nothing changes), so no CSRF token."""

    class Meta:
        csrf = False

    from_ = DateField(_l("Du"), validators=[Optional()], name="from")
    to = DateField(_l("Au"), validators=[Optional()])
    department = SelectField(_l("Département"), validators=[Optional()])
