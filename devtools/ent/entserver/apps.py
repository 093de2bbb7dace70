from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


class EntServerConfig(AppConfig):
    name = "entserver"
    verbose_name = "ENT de développement"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, as Django asks of code that loads models: the module imports allauth's models, which the app
        # registry is not ready for while apps.py is read.
        from entserver.backchannel import send_logout_tokens  # noqa: PLC0415

        # Every way out of the ENT (end_session_endpoint, « Se déconnecter », /cas/logout) goes through Django's
        # logout: the back-channel logout tokens leave from there (entserver/backchannel.py).
        user_logged_out.connect(send_logout_tokens, dispatch_uid="entserver.backchannel")
