from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EcandidatConfig(AppConfig):
    name = "ecandidat"
    verbose_name = _("platform")

    def ready(self):
        # Registers the production-configuration checks (weak SECRET_KEY, no antivirus) with @register.
        from ecandidat import checks  # noqa: F401
