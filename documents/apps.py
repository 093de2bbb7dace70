from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = pgettext_lazy("app", "Uploaded files")  # a heading of the back office's menu

    def ready(self) -> None:
        # Deferred: the check imports the settings-driven antivirus client. The back office's connection tests.
        from documents.connectivity import CLAMD  # noqa: PLC0415
        from ecandidat.connectivity import register  # noqa: PLC0415

        register(CLAMD)
        import documents.checks  # noqa: F401, PLC0415 - registers the storage's deploy check (ecandidat.W007)
