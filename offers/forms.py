from django import forms
from django.utils.translation import gettext_lazy as _


class CatalogueFilterForm(forms.Form):
    q = forms.CharField(label=_("Filter"), required=False, max_length=100)
