"""Attachments of outbox mails: recorded on the row as references, read when the mail is delivered.

An app that attaches files to its mails registers an *attachment provider* from its ``AppConfig.ready()`` (the
way it registers its notifications): a key, and a function that returns a file's bytes from the object id the
reference names. The sender records an :class:`AttachmentRef` (provider key, object id, file name, MIME type) in
the outbox row, in the same transaction as the action; the worker asks the provider for the bytes at each delivery
attempt. The database never holds a copy of the file, and the core knows no app: it only keeps this registry.

What a provider may do:

- return the bytes (it may build the file first, if it was not built yet: the mail then waits for it);
- raise :class:`AttachmentUnavailable` when the file can never be had (its object was deleted): the mail leaves
  without it, and the row's ``last_error`` says so (a mail is never lost because of its attachment); its text may
  have announced the file, so the delivery adds a paragraph, in the mail's language, saying the file could not be
  attached and whom to ask for it (the ``contact`` the provider gives, else the institution);
- raise anything else (a storage outage, a failed build): the attempt fails like an SMTP error, the row is retried
  with the outbox's back-off, and no mail leaves without the file it announces.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.core.exceptions import ImproperlyConfigured


class AttachmentUnavailable(Exception):  # noqa: N818 (a state, not an error of the caller)
    """The referenced file can never be had (its object was deleted): the mail leaves without it.

    ``contact``: whom the recipient may ask for the file (a commission's name and address), printed in the mail's
    paragraph that says the file is missing; "" when the provider cannot tell (the institution is named then)."""

    def __init__(self, reason: str, *, contact: str = "") -> None:
        super().__init__(reason)
        self.contact = contact


@dataclass(frozen=True)
class AttachmentRef:
    provider: str  # a key given to register()
    key: str  # the object's id, as the provider reads it
    filename: str  # the attachment's name in the mail
    mimetype: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, str]) -> "AttachmentRef":
        return cls(
            provider=str(value["provider"]),
            key=str(value["key"]),
            filename=str(value["filename"]),
            mimetype=str(value["mimetype"]),
        )


Provider = Callable[[str], bytes]

_PROVIDERS: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """Make ``provider`` read the attachments recorded under ``name`` (from an ``AppConfig.ready()``). Registering
    the same function again does nothing; another function under a registered name is refused."""
    known = _PROVIDERS.get(name)
    if known is not None and known is not provider:
        raise ImproperlyConfigured(f"attachment provider {name} is registered twice")
    _PROVIDERS[name] = provider


def read(ref: AttachmentRef) -> bytes:
    """The bytes of one attachment, from its provider. Raises :class:`AttachmentUnavailable` when they can never be
    had, ``LookupError`` when no provider has that name (a worker running older code: retried, not sent), and
    whatever the provider raises on a temporary failure."""
    provider = _PROVIDERS.get(ref.provider)
    if provider is None:
        raise LookupError(f"no attachment provider {ref.provider} is registered (ecandidat.attachments)")
    return provider(ref.key)
