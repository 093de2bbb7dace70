"""allauth form overrides: the guide's "Créer un compte", "Création de compte" (ENT), login and forgotten
identifiers forms.

Settings: ``ACCOUNT_FORMS``, ``SOCIALACCOUNT_FORMS`` and ``MFA_FORMS`` name a class of this module for every
allauth form a page of ours shows, if only to drop allauth's placeholders (``_WithoutPlaceholders``).
"""

import unicodedata
from typing import TYPE_CHECKING

from allauth.account import forms as account_forms
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.fields import PasswordField
from allauth.account.models import EmailAddress
from allauth.mfa.base import forms as mfa_forms
from allauth.mfa.totp import forms as totp_forms
from allauth.socialaccount import forms as social_forms
from django import forms
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.adapters import SIGNUP_ADDRESS_TAKEN_BY
from accounts.models import User
from ecandidat import parameters
from ecandidat.exceptions import BusinessRuleError
from ecandidat.text import ONE_LINE_CONTROLS, RefuseInvisibleControls, require_a_letter

# Our signup never asks for a username (the numéro de dossier is drawn) nor a password (chosen after validating
# the address); the global ACCOUNT_SIGNUP_FIELDS keeps "password1" because allauth's login form needs it.
SIGNUP_FIELDS = {"email": {"required": True}, "email2": {"required": True}}
MISMATCH_MESSAGE = _("The two e-mail addresses are different.")

# A name's characters besides letters and combining marks of any script (Unicode categories L* and M*; the modifier
# letter apostrophe ʼ U+02BC is one, Lm): the space, the hyphens (-, U+2010 and the non-breaking U+2011), the
# apostrophes (', ’ and the ‘ U+2018 some keyboards give), the full stop (« J.-P. »), the middle dots of Catalan
# (« Gal·la », U+00B7) and Japanese (« ジョン・スミス », U+30FB); and the invisible ones a name may carry that
# ``RefuseInvisibleControls`` keeps on purpose: the zero-width non-joiner and joiner a Persian name needs (U+200C,
# U+200D), the direction marks some keyboards add (U+200E, U+200F, U+061C). The other spaces (no-break, ideographic…)
# never reach it: ``NameField`` makes them plain spaces. Not a digit, a colon, a slash, an « @ » or any other symbol:
# the names open the account's mails (« Bonjour Marie, »), sent to an address nobody has validated yet, and a name
# « Marie. URGENT : validez ici https://… » made the university's server mail a stranger whatever text and link it
# carried.
NAME_PUNCTUATION = frozenset(" -\u2010\u2011'’\u2018.\u00b7\u30fb\u200c\u200d\u200e\u200f\u061c")
NAME_CHARACTERS_MESSAGE = _(
    "Only letters, spaces, hyphens, apostrophes and full stops are allowed in a name, not “%(characters)s”."
)


def name_characters(value: object) -> None:
    """A form field's validator for a person's name on the account (Nom, Prénom): letters and marks of any script
    and ``NAME_PUNCTUATION`` only, the refusal next to the field naming the characters to remove. A value without
    a letter, or with an invisible character, gets only that refusal (``require_a_letter``,
    ``RefuseInvisibleControls``): one thing to correct."""
    if not isinstance(value, str) or ONE_LINE_CONTROLS.search(value) or not any(c.isalpha() for c in value):
        return
    refused = dict.fromkeys(
        character
        for character in value
        if character not in NAME_PUNCTUATION and unicodedata.category(character)[0] not in "LM"
    )
    if refused:
        raise forms.ValidationError(
            NAME_CHARACTERS_MESSAGE, code="name_characters", params={"characters": " ".join(refused)}
        )


class NameField(forms.CharField):
    """A person's name on the account (Nom, Prénom): every space separator (Unicode category Zs: the no-break space
    of a Mac's Option-space or a pasted text, the narrow no-break and ideographic spaces…) becomes a plain space
    before the validators and in what is stored, so the name and the mails that open with it hold a plain space."""

    def to_python(self, value):
        if isinstance(value, str):
            value = "".join(" " if unicodedata.category(character) == "Zs" else character for character in value)
        return super().to_python(value)


# The mixin is only ever mixed into allauth's forms (untyped, so Any to mypy): type-check it as a Form.
if TYPE_CHECKING:
    _FormBase = forms.Form
else:
    _FormBase = object


def _drop_placeholders(form: forms.Form, *names: str) -> None:
    """Remove allauth's HTML ``placeholder`` attribute from these fields (every field without names): it repeats the
    visible label in grey and vanishes on input (RGAA 11.1: the label stays, and is enough)."""
    for name in names or list(form.fields):
        form.fields[name].widget.attrs.pop("placeholder", None)


class _WithoutPlaceholders(_FormBase):
    """Mixed first into every allauth form we show: no field keeps allauth's placeholder. A field a subclass adds
    after this ``__init__`` has run drops it itself (``_drop_placeholders``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _drop_placeholders(self)


class _CandidateSignupMixin(_FormBase):
    """Nom *, Prénom *, Adresse mail *, Confirmation Adresse Mail *; duplicates handled without enumeration."""

    field_order = ["last_name", "first_name", "email", "email2"]

    def _get_signup_fields(self, kwargs) -> dict:
        kwargs.pop("email_required", None)
        kwargs.pop("username_required", None)
        return {name: dict(spec) for name, spec in SIGNUP_FIELDS.items()}

    def _setup_candidate_fields(self):
        # WCAG 1.3.5: every personal field names its purpose, so browsers and assistive tools can fill it in.
        # No invisible control, format or writing-direction character: the names are written into the account's
        # mails and the dossier's first page (whose forms refuse them too). And a letter at least: a name of a dash,
        # a digit or a lone accent names nobody. And nothing but a name's characters (``name_characters``): no
        # address, no link, no sentence of a stranger's at the top of a mail the institution sends.
        self.fields["last_name"] = NameField(
            label=_("Last name"),
            max_length=150,
            widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
            validators=[RefuseInvisibleControls(), require_a_letter, name_characters],
        )
        self.fields["first_name"] = NameField(
            label=_("First name"),
            max_length=150,
            widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
            validators=[RefuseInvisibleControls(), require_a_letter, name_characters],
        )
        self.fields["email"].label = _("E-mail address")
        self.fields["email2"].label = _("E-mail address confirmation")
        for name in ("email", "email2"):
            attrs = self.fields[name].widget.attrs
            # The widget's own type, not an attribute: an attrs "type" is written after it, a duplicate attribute.
            self.fields[name].widget.input_type = "email"
            attrs.update(autocomplete="email", spellcheck="false")
        self.order_fields(self.field_order)

    def clean_email2(self) -> str:
        # As allauth's clean_email writes the address (AccountAdapter.clean_email), so that the two compare.
        return get_account_adapter().clean_email(self.cleaned_data["email2"].lower())

    def validate_unique_email(self, value) -> str:
        """An address already used in the active campaign, or held as validated by a staff account (the account
        could never validate it: ``services.email_taken_in_campaign``): no error on the page (that would tell a
        stranger the address has an account); allauth then shows the usual "check your mail" page and mails the
        owner (a staff member reads that a candidate account needs another address)."""
        try:
            campaign = services.signup_campaign()
        except BusinessRuleError as exc:
            raise forms.ValidationError(str(exc)) from None
        self.signup_campaign = campaign
        self.address_taken_by = services.email_taken_in_campaign(email=value, campaign=campaign)
        self.account_already_exists = bool(self.address_taken_by)
        return value

    def try_save(self, request):
        """allauth's save, in a savepoint: an account that took the address since ``validate_unique_email`` (the
        form posted twice at once, a double click) makes the campaign's unique constraint refuse the insert, and the
        signup then takes the path of an address already used (the neutral page, the owner mailed), not a 500."""
        # Whose address it is, for the mail to its owner (AccountAdapter.send_account_already_exists_mail).
        setattr(request, SIGNUP_ADDRESS_TAKEN_BY, getattr(self, "address_taken_by", None))
        # allauth's BaseSignupForm.try_save: the mixin is type-checked as a plain Form (_FormBase), which has none.
        try:
            with transaction.atomic():
                return super().try_save(request)  # type: ignore[misc]
        except IntegrityError as error:
            if not services.violates_email_per_campaign(error):
                raise
        self.account_already_exists = True
        setattr(request, SIGNUP_ADDRESS_TAKEN_BY, services.AddressTakenBy.CAMPAIGN_ACCOUNT)
        return super().try_save(request)  # type: ignore[misc]

    def clean(self):
        cleaned_data = super().clean()
        # allauth's own message says "email"; the guide's field is "Confirmation Adresse Mail".
        allauth_mismatch = gettext("You must type the same email each time.")  # allauth's msgid
        if "email2" in self.errors:
            self.errors["email2"] = self.error_class(
                # ErrorList renders lazy messages; its stub only lists str | Exception.
                [MISMATCH_MESSAGE if str(error) == allauth_mismatch else error for error in self.errors["email2"]],  # type: ignore[misc]
                # The field's id, as Form.add_error gives it: the list is rendered with id="id_email2_error", which
                # the input's aria-describedby names (RGAA 11.10).
                field_id=self["email2"].auto_id,
                renderer=self.renderer,
            )
        return cleaned_data


class SignupForm(_WithoutPlaceholders, _CandidateSignupMixin, account_forms.SignupForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_candidate_fields()


class SocialSignupForm(_WithoutPlaceholders, _CandidateSignupMixin, social_forms.SignupForm):
    """ "Création de compte" after the first ENT login: claims pre-fill the fields, the address is validated by mail
    whatever the ENT says about it. With ``ENT_ACCOUNTS_PASSWORD`` (eCandidat CANDIDAT_IS_MDP_CONNECT_CAS) the student
    may also choose a password, optional, to log in when the ENT is down."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_candidate_fields()
        if parameters.get("ENT_ACCOUNTS_PASSWORD"):
            self.fields["password1"] = PasswordField(
                label=_("Password (optional)"),
                autocomplete="new-password",
                required=False,
                help_text=_(
                    "To log in with your dossier number or e-mail address when the ENT is unavailable. At least "
                    "12 characters; avoid common passwords and your name. You can also choose it later from the menu."
                ),
            )
            self.fields["password2"] = PasswordField(
                label=_("Password confirmation"), required=False, autocomplete="new-password"
            )
            _drop_placeholders(self, "password1", "password2")

    def clean(self):
        cleaned_data = super().clean()
        password1, password2 = cleaned_data.get("password1"), cleaned_data.get("password2")
        if password1:
            # The password rules (AUTH_PASSWORD_VALIDATORS), against the names and address typed above.
            names = {key: cleaned_data.get(key) or "" for key in ("first_name", "last_name", "email")}
            try:
                get_account_adapter().clean_password(password1, user=User(**names))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        if password1 and password1 != password2 and "password1" not in self.errors:
            self.add_error("password2", _("The two passwords are different."))
        elif password2 and not password1 and "password1" not in self.errors:
            self.add_error("password1", _("Type the password here too, or leave both empty."))
        return cleaned_data

    def validate_unique_email(self, value) -> str:
        """As the e-mail signup (``_CandidateSignupMixin.validate_unique_email``), but the address the ENT gives
        the student it has just authenticated, and vouches for, held in the campaign by an account that never proved
        it reads that mailbox (``services.unvalidated_holder_of``: a stranger's e-mail signup with the student's
        predictable university address), is free for this account: that account goes when this one is saved
        (``save``). Any other holder keeps the address, as with the e-mail signup: the same page, its owner mailed.
        Only the ENT's address, and only when the ENT says it is verified (``_ent_vouches_for``): one the student
        typed instead, or one the ENT passes on without vouching for it (an OpenID Connect ENT whose users may put
        any address in their profile: ``email_verified`` false or missing), names a mailbox the ENT says nothing
        about."""
        value = super().validate_unique_email(value)
        self.unvalidated_holder = None
        if self.address_taken_by == services.AddressTakenBy.CAMPAIGN_ACCOUNT and self._ent_vouches_for(value):
            self.unvalidated_holder = services.unvalidated_holder_of(email=value, campaign=self.signup_campaign)
            if self.unvalidated_holder is not None:
                self.address_taken_by = None
                self.account_already_exists = False
        return value

    def _ent_vouches_for(self, email: str) -> bool:
        """Whether ``email`` is the address the ENT gave for the identity (the form's initial value, from its
        claims, kept in the session since the ENT's return), as addresses are stored and compared, and one the ENT
        says is verified: its ``email_verified`` claim is ``true``, which allauth's OpenID Connect provider copies
        onto the address it builds from the same claims (``sociallogin.email_addresses``, read here before ``save``
        replaces them). The CAS path sets the claim for the directory's address (``accounts.cas.
        claims_from_attributes``); an OpenID Connect ENT passes on what it knows, and the claim false or missing
        (or anything but a JSON ``true``) is no word that the student reads that mailbox."""
        ent_address = self.initial.get("email") or ""
        if not isinstance(ent_address, str) or not ent_address:
            return False
        address = services.normalize_email(email)
        if services.normalize_email(ent_address) != address:
            return False
        return any(
            given.verified is True
            and isinstance(given.email, str)
            and services.normalize_email(given.email) == address
            for given in self.sociallogin.email_addresses
        )

    def save(self, request):
        """The ENT student's account, in the savepoint of ``try_save``: first the account that held its address
        unvalidated goes (``services.delete_unvalidated_holder``), then this one is saved, and its history says whose
        address it took. When that account cannot go, the address is still its: the campaign's unique constraint
        refuses this one, and ``try_save`` takes the path of an address already used, the deletion undone."""
        email = self.cleaned_data["email"]
        holder = getattr(self, "unvalidated_holder", None)
        if holder is not None and not services.delete_unvalidated_holder(
            holder=holder, ent_uid=self.sociallogin.account.uid
        ):
            holder = None
        self.sociallogin.email_addresses = [EmailAddress(email=email, verified=False, primary=True)]
        self.sociallogin.user.email = email
        user = super().save(request)
        if holder is not None:
            services.record_unvalidated_holder_deleted(user=user, numero=holder.username)
        if password := self.cleaned_data.get("password1"):
            services.set_candidate_password(user=user, password=password, actor=user)
        return user


class SetPasswordForm(_WithoutPlaceholders, account_forms.SetPasswordForm):
    """ "Définir un mot de passe": an ENT candidate chooses a local password (accounts.services)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password2"].label = _("Password confirmation")

    def save(self) -> None:
        saved = services.set_candidate_password(
            user=self.user, password=self.cleaned_data["password1"], actor=self.user
        )
        self.user.password = saved.password  # allauth then keeps this session with the new hash


class LoginForm(_WithoutPlaceholders, account_forms.LoginForm):
    """ "Utilisateur *" (numéro de dossier or e-mail address) and "Mot de passe *"."""

    # The longest e-mail address (RFC 5321, EmailField's own); usernames are shorter. Longer is refused beside the
    # field before any lookup: the case-insensitive match of 60,000 characters was a 500 on SQLite ("LIKE or GLOB
    # pattern too complex") and a scan for nothing elsewhere.
    LOGIN_MAX_LENGTH = 254

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"] = forms.CharField(
            label=_("User"),
            max_length=self.LOGIN_MAX_LENGTH,
            widget=forms.TextInput(attrs={"autocomplete": "username"}),
        )
        self.fields["password"].help_text = ""

    def clean_login(self) -> str:
        """An address means one account's username: this campaign's candidate whose address is validated (accounts
        are annual, so an address may be used in several campaigns), else the staff member who has it, else this
        campaign's candidate who has not validated it yet. One account, one name for allauth, so its failed-login
        limit (5 in 5 minutes) counts the username and the address together: typing one then the other does not
        double the attempts.

        A validated address first: anyone may sign up with any address (it stays unvalidated, with no password),
        and that account must not take the address from the staff member whose it is. Whichever account the address
        names, or none, a wrong password gets the same words (``AccountAdapter.error_messages``)."""
        login = super().clean_login()
        if "@" in login:
            login = services.normalize_email(login)  # as addresses are stored: ``a@examplｅ.org`` is ``a@example.org``
            validated = EmailAddress.objects.filter(user_id=OuterRef("pk"), email__iexact=login, verified=True)
            accounts = list(
                User.objects.filter(email__iexact=login)
                .filter(Q(campaign__is_active=True) | Q(campaign__isnull=True, is_staff=True))
                .annotate(validated=Exists(validated))
                .order_by(F("campaign").asc(nulls_last=True))
                .values_list("username", "campaign", "validated")[:3]
            )
            candidate = next((row for row in accounts if row[1] is not None), None)
            staff = [row for row in accounts if row[1] is None]
            if candidate is not None and candidate[2]:
                return candidate[0]
            # A staff address only when one staff account has it (two staff accounts sharing an address are left to
            # allauth, which tries the password on each).
            if len(staff) == 1:
                return staff[0][0]
            if candidate is not None:
                return candidate[0]
        return login


class ResetPasswordForm(_WithoutPlaceholders, account_forms.ResetPasswordForm):
    """« J'ai oublié mes identifiants »: the address, normalised as addresses are stored (``AccountAdapter.
    clean_email``), mails a link to each account ``services.password_reset_accounts`` finds for it (this campaign's,
    validated or not yet, and staff's), else « compte inconnu » (CPT_MIN_INCONNU), through allauth: the same page
    whatever is found. allauth's own lookup prefers a validated address across campaigns: it found only last year's
    account, which may not log in, and nothing was mailed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("E-mail address")

    def clean_email(self) -> str:
        email = get_account_adapter().clean_email(self.cleaned_data["email"].lower())
        self.users = services.password_reset_accounts(email=email)
        return email


# allauth's other forms that our pages show, as they are but for the placeholders.
class ChangePasswordForm(_WithoutPlaceholders, account_forms.ChangePasswordForm):
    pass


class ResetPasswordKeyForm(_WithoutPlaceholders, account_forms.ResetPasswordKeyForm):
    def save(self) -> None:
        """The new password from the mailed link, then the account's failed logins forgotten under the name the login
        form counts them (``AccountAdapter.clear_failed_logins``): allauth forgets only those counted under each
        address, and ``LoginForm.clean_login`` counts an address as its account's username. The candidate locked out
        by five wrong passwords logs in with the new one at once."""
        super().save()
        get_account_adapter().clear_failed_logins(self.user)


class ReauthenticateForm(_WithoutPlaceholders, account_forms.ReauthenticateForm):
    pass


class MfaAuthenticateForm(_WithoutPlaceholders, mfa_forms.AuthenticateForm):
    pass


class MfaReauthenticateForm(_WithoutPlaceholders, mfa_forms.ReauthenticateForm):
    pass


class ActivateTOTPForm(_WithoutPlaceholders, totp_forms.ActivateTOTPForm):
    pass


class UserTokenForm(account_forms.UserTokenForm):
    """The link of « J'ai oublié mes identifiants », checked when it is opened and again when the password is posted:
    refused like an expired link when the account may no longer get a password that way (``services.
    may_reset_password``): a link mailed before ``ENT_ACCOUNTS_PASSWORD`` went off, or before the account was
    deactivated (staff who left the directory)."""

    def clean(self):
        cleaned_data = super().clean()
        if not services.may_reset_password(self.reset_user):
            raise get_account_adapter().validation_error("invalid_password_reset")
        return cleaned_data
