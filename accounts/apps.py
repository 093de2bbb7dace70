from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = pgettext_lazy("app", "Accounts and staff")  # a heading of the back office's menu

    def ready(self):
        from allauth.account.signals import password_changed, password_set  # noqa: PLC0415 - signal wiring here
        from allauth.mfa.signals import authenticator_added, authenticator_used  # noqa: PLC0415 - signal wiring

        # Deferred: ready() runs once the models are loaded; staff_enrolment imports allauth's models.
        from accounts.staff_enrolment import (  # noqa: PLC0415
            record_second_factor_on_activation,
            rotate_on_code_reauthentication,
        )

        # allauth offers no adapter hook for "authenticator app activated"; its signal is the documented one.
        authenticator_added.connect(record_second_factor_on_activation, dispatch_uid="staff_access_activation")
        # Nor for "code typed at the reauthentication": the session gains its second factor, under a new key.
        authenticator_used.connect(rotate_on_code_reauthentication, dispatch_uid="staff_access_reauthentication")

        # « Définir un mot de passe » and « Modifier mon mot de passe » keep the session under a new key (Django's
        # update_session_auth_hash): what lets the ENT's logout end it (CAS single logout, OpenID Connect back-channel
        # logout) follows it. allauth offers no adapter hook after that step; its signals are the documented ones.
        from accounts import cas, oidc_backchannel  # noqa: PLC0415 - both import the models

        for signal in (password_set, password_changed):
            signal.connect(cas.follow_new_session_key, dispatch_uid="ent_logout_cas_ticket")
            signal.connect(oidc_backchannel.follow_new_session_key, dispatch_uid="ent_logout_oidc_session")

        # Deferred like the import above (the declarations import the models): the account mails.
        from accounts.notifications import NOTIFICATIONS  # noqa: PLC0415
        from ecandidat.notifications import register  # noqa: PLC0415

        register(*NOTIFICATIONS)

        # Deferred like the imports above (the directory imports the models). The back office's connection tests.
        from accounts.connectivity import DIRECTORY  # noqa: PLC0415
        from ecandidat import connectivity  # noqa: PLC0415

        connectivity.register(DIRECTORY)
