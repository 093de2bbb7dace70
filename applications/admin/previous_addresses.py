"""Finding a candidate by an address their account had before (``accounts.models.PreviousEmailAddress``): the
helpdesk is called by a candidate who gives the address they signed up with, after they (or the helpdesk) changed
it; allauth keeps only the new one. Mixed into the candidates' list and the candidates' accounts: their search looks
in the previous addresses too, and while a search is on, a column says which previous address matched and when it
was replaced (one subquery in the list's own query: no query per row).

An address in the search is read as addresses are stored (``accounts.services.normalize_email``): the helpdesk may
be given, or copy, another spelling of the same mailbox (``xn--cole-9oa.fr`` for ``école.fr``, full-width letters),
which no stored address contains. A capital alone was never missed: the search is case-insensitive."""

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.db.models import OuterRef, Q, Subquery
from django.utils.formats import date_format
from django.utils.text import smart_split, unescape_string_literal
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import PreviousEmailAddress
from accounts.services import normalize_email


def search_words(request) -> list[str]:
    """The words of the list's search as Django's search reads them (quoted phrases unquoted)."""
    words = []
    for word in smart_split(request.GET.get(SEARCH_VAR, "").strip()):
        if word[0] in {'"', "'"} and word[0] == word[-1]:
            word = unescape_string_literal(word)
        if word.strip():
            words.append(word)
    return words


def as_stored(word: str) -> str:
    """A word of the search as addresses are stored: a word with an ``@`` (an address, or a part of one) as
    ``normalize_email`` writes it, any other word as it is."""
    return normalize_email(word) if "@" in word else word


def searched_term(search_term: str) -> str:
    """``search_term`` with its addresses as they are stored (``as_stored``), for Django's search: its other words
    as typed, each rewritten address quoted (Django unquotes it)."""
    bits = []
    for bit in smart_split(search_term):
        word = unescape_string_literal(bit) if bit[0] in {'"', "'"} and bit[0] == bit[-1] else bit
        if "@" in word and (stored := as_stored(word)) != word:
            bit = '"{}"'.format(stored.replace("\\", "\\\\").replace('"', '\\"'))
        bits.append(bit)
    return " ".join(bits)


class SearchesPreviousAddresses:
    """A ModelAdmin whose rows have an account (``account_path``: "user" for a dossier, "pk" for an account). Its
    ``search_fields`` name the previous addresses (``…previous_email_addresses__email``) themselves."""

    account_path = "user"

    def get_queryset(self, request):
        """The rows, with, while the list is searched, the most recent previous address of the account that one of
        the search's words is in (``previous_email_matched``) and when it was replaced. It is the list's base
        queryset (Django searches across a relation through it), so the annotation survives the search."""
        queryset = super().get_queryset(request)  # type: ignore[misc]
        words = [as_stored(word) for word in search_words(request)]
        if not words:
            return queryset
        matching = Q()
        for word in words:
            matching |= Q(email__icontains=word)
        previous = PreviousEmailAddress.objects.filter(matching, user=OuterRef(self.account_path)).order_by(
            "-replaced_at", "-pk"
        )
        return queryset.annotate(
            previous_email_matched=Subquery(previous.values("email")[:1]),
            previous_email_replaced_at=Subquery(previous.values("replaced_at")[:1]),
        )

    def get_search_results(self, request, queryset, search_term):
        """Django's search, the addresses in ``search_term`` read as they are stored (``searched_term``)."""
        return super().get_search_results(request, queryset, searched_term(search_term))  # type: ignore[misc]

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))  # type: ignore[misc]
        return [*columns, "previous_address"] if search_words(request) else columns

    @admin.display(description=_("previous address"))
    def previous_address(self, obj) -> str:
        email = getattr(obj, "previous_email_matched", None)
        if not email:
            return ""
        return gettext("Found by a previous address: %(email)s (replaced on %(date)s)") % {
            "email": email,
            "date": date_format(localtime(obj.previous_email_replaced_at), "SHORT_DATE_FORMAT"),
        }
