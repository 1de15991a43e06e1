"""People and their credentials."""
from __future__ import annotations

import datetime as dt
import enum
import hashlib

from flask_login import UserMixin
from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.extensions import db
from exchange.models.types import UTCDateTime, utcnow


class Role(str, enum.Enum):
    producer = "producer"
    trader = "trader"
    chamber = "chamber"
    admin = "admin"


SELF_SERVICE_ROLES = (Role.producer, Role.trader)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so uniqueness holds regardless of case on every database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    # A trader's base (depot or market town): default watch centre, and distances in reports.
    base_postcode: Mapped[str | None] = mapped_column(String(5))
    base_commune: Mapped[str | None] = mapped_column(String(120))
    base_insee: Mapped[str | None] = mapped_column(String(5))
    base_lat: Mapped[float | None] = mapped_column(Float)
    base_lon: Mapped[float | None] = mapped_column(Float)
    # A chamber's territory: department codes ("46", "2A", "971").
    territory: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def base(self) -> dict | None:
        if self.base_lat is None or self.base_lon is None:
            return None
        return {"postcode": self.base_postcode, "commune": self.base_commune, "insee": self.base_insee,
                "lat": self.base_lat, "lon": self.base_lon}

    def has_role(self, *roles: Role | str) -> bool:
        return self.role in {r.value if isinstance(r, Role) else r for r in roles}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role} {self.email}>"


def hash_token(token: str) -> str:
    """Tokens are stored as SHA-256 digests: they are long random strings, so a slow hash adds nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")
