from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = pgettext_lazy("app", "Uploaded files")  # a heading of the back office's menu
