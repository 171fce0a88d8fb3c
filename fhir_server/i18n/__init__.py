"""The one message catalog for texts people read (gettext).

Every diagnostic, page text and CLI message goes through `_()`, so the server can answer in
the caller's language. The language is chosen per request (`start_request`, from
`Accept-Language`; the sign-in pages may switch it with `use_language`, from OpenID Connect
`ui_locales`) and kept in a context variable, with a note of whether any text was translated
so that the response can say `Content-Language`.

The catalogs are the PO files `fhir_server/locale/<language>/LC_MESSAGES/fhir_server.po`,
read with Babel at startup and compiled in memory: no `.mo` file and no build step, so a clone,
an editable install and a wheel serve what translators edited. Counted texts go through `_n()`
with each language's `Plural-Forms`. `python -m fhir_server.i18n.catalogs` checks the catalogs
against the code. Outside a request (CLI, HL7 v2 listener, jobs) texts are English.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from .negotiation import choose_language, parse_accept_language, parse_ui_locales

__all__ = [
    "DEFAULT_LANGUAGE",
    "LOCALE_DIR",
    "LanguageChoice",
    "_",
    "_n",
    "available_languages",
    "catalog_path",
    "current_language",
    "forms",
    "load_catalogs",
    "preferred_language",
    "read_translations",
    "start_request",
    "translated",
    "translations",
    "ui_language",
    "use_language",
]

LOCALE_DIR = Path(__file__).parent.parent / "locale"
DOMAIN = "fhir_server"
DEFAULT_LANGUAGE = "en"
"""The language of the msgids in the code, and of every answer no catalog serves better."""


def forms(text: str | tuple[str, ...] | list[str] | None) -> list[str]:
    """A catalog entry's msgid or msgstr as a list: one text, or one per plural form."""
    if text is None:
        return []
    return [text] if isinstance(text, str) else list(text)


def translated(message: Message) -> bool:
    """Whether a catalog entry may be served: every form filled in, and not marked fuzzy."""
    texts = forms(message.string)
    return bool(message.id) and not message.fuzzy and bool(texts) and all(texts)


def read_translations(path: Path, language: str) -> Translations:
    """The servable entries of one PO file; untranslated, fuzzy and obsolete ones fall through to English.

    The catalog is compiled in memory (Babel's `write_mo`), which also carries the header's
    `Plural-Forms` to `ngettext`. A file Babel cannot read raises here, so a broken catalog stops
    the server at startup.
    """
    with path.open("rb") as file:
        catalog = read_po(file, locale=language.replace("-", "_"), domain=DOMAIN, abort_invalid=True)
    for message in list(catalog):
        if message.id and not translated(message):
            del catalog[message.id]
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def catalog_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    """Where the PO file of `language` (a BCP 47 tag such as `de` or `pt-BR`) lives."""
    return locale_dir / language.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=1)
def available_languages() -> tuple[str, ...]:
    """English and every language with a catalog, as BCP 47 tags (`pt_BR` folders are `pt-BR`)."""
    found = sorted(p.parent.parent.name.replace("_", "-") for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (DEFAULT_LANGUAGE, *(tag for tag in found if tag != DEFAULT_LANGUAGE))


@lru_cache(maxsize=16)
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of `language` (one of `available_languages()`); English needs none."""
    path = catalog_path(language)
    if language == DEFAULT_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    return read_translations(path, language)


def load_catalogs() -> tuple[str, ...]:
    """Read every catalog now (the server does at startup, so a broken file stops it there); the languages."""
    for language in available_languages():
        translations(language)
    return available_languages()


def preferred_language(accept_language: str | None) -> str:
    """The available language that serves an `Accept-Language` header best; English when none does."""
    chosen = choose_language(parse_accept_language(accept_language), available_languages(), DEFAULT_LANGUAGE)
    return chosen or DEFAULT_LANGUAGE


def ui_language(ui_locales: str | None) -> str | None:
    """The available language an OpenID Connect `ui_locales` value asks for first; None when it names none."""
    return choose_language(parse_ui_locales(ui_locales), available_languages(), None)


class LanguageChoice:
    """The language of one request's texts, and whether any text went through the catalog (`used`)."""

    __slots__ = ("language", "used")

    def __init__(self, language: str) -> None:
        self.language = language
        self.used = False


# A mutable object rather than a plain string, so that a switch or a translation made in a copied
# context (a thread-pool call, a task) is still seen by the middleware that sends the headers.
_choice: ContextVar[LanguageChoice | None] = ContextVar("fhir_server_language", default=None)


def start_request(accept_language: str | None) -> LanguageChoice:
    """Choose the language of a new request from its `Accept-Language` header and make it current."""
    choice = LanguageChoice(preferred_language(accept_language))
    _choice.set(choice)
    return choice


def use_language(language: str) -> None:
    """Serve the rest of this request (or task) in `language`, one of `available_languages()`."""
    choice = _choice.get()
    if choice is None:
        _choice.set(LanguageChoice(language))
    else:
        choice.language = language


def current_language() -> str:
    choice = _choice.get()
    return choice.language if choice is not None else DEFAULT_LANGUAGE


def _(message: str) -> str:
    """Translate `message` into the current caller's language (English when unknown).

    `message` must be a literal (the catalog check reads it from the code); format after
    translating: `_("Unknown element '{name}'").format(name=key)`.
    """
    choice = _choice.get()
    if choice is None:
        return message
    choice.used = True
    return translations(choice.language).gettext(message)


def _n(singular: str, plural: str, count: int) -> str:
    """The form of a counted text that `count` takes in the current caller's language (`ngettext`).

    Both texts must be literals; format afterwards, with the count too:
    `_n("{count} resource imported", "{count} resources imported", n).format(count=n)`.
    English, and any language without the entry, uses the singular for 1 and the plural otherwise.
    """
    choice = _choice.get()
    if choice is None:
        return singular if count == 1 else plural
    choice.used = True
    return translations(choice.language).ngettext(singular, plural, count)
