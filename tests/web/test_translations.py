"""Every French text of the pages and the rules has its English translation, and the catalog compiles."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _msgids() -> set[str]:
    found = set()
    method_map = [("exchange/**.py", "python"), ("templates/**.html", "jinja2")]
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_text_shown_to_people_has_an_english_translation():
    with open(ROOT / "exchange/translations/en/LC_MESSAGES/messages.po", "rb") as po:
        catalog = read_po(po, locale="en")
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(_msgids() - translated)
    assert not missing, f"run `make messages` and translate: {missing}"


def test_english_pages_are_in_english(client):
    page = client.get("/login", headers={"Accept-Language": "en"}).text
    assert "<h1>Sign in</h1>" in page and "Mot de passe" not in page
    page = client.get("/login", headers={"Accept-Language": "de"}).text
    assert "<h1>Connexion</h1>" in page  # French by default
