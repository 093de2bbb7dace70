from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class EcandidatConfig(AppConfig):
    name = "ecandidat"
    verbose_name = pgettext_lazy("app", "Platform")  # a heading of the back office's menu

    def ready(self):
        # Deferred until the app registry is ready: the checks register themselves with @register; the login
        # stamps the session as refreshed, since a login saves it anyway (ecandidat/sessions.py); the admin's yes/no
        # icons get French text alternatives (ecandidat/admin_wording.py); the admin's inputs say their language and
        # get a name where Django gives none (ecandidat/admin_inputs.py).
        from django.contrib.auth.signals import user_logged_in  # noqa: PLC0415 - wiring in ready(), as below

        from ecandidat import (  # noqa: F401, PLC0415 - loaded once the apps are ready
            admin_inputs,
            admin_wording,
            checks,
            lookups,  # CharField's accents_icontains, for the back office's name searches
        )
        from ecandidat.sessions import stamp_on_login  # noqa: PLC0415 - signal wiring belongs in ready()

        admin_wording.install()
        admin_inputs.install()

        user_logged_in.connect(stamp_on_login, dispatch_uid="ecandidat.sessions.stamp_on_login")

        # The back office's connection tests of the services this layer reaches (the other apps add theirs).
        from ecandidat import connectivity, connectivity_checks  # noqa: PLC0415 - loaded once the apps are ready

        connectivity.register(*connectivity_checks.CHECKS)
