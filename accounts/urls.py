from django.urls import path

from accounts import cas, views

app_name = "accounts"

urlpatterns = [
    path("adresse-mail/", views.email_change, name="email_change"),
    path("adresse-mail/envoyee/", views.email_change_done, name="email_change_done"),
    path("mot-de-passe/", views.password_set, name="password_set"),
    path("gestion/activation/", views.staff_enrolment_start, name="staff_enrolment"),
    path("ent/cas/", cas.login, name="cas_login"),
    path("ent/cas/retour/", cas.callback, name="cas_callback"),
    path("gestion/activation/<str:secret>/", views.staff_enrolment_confirm, name="staff_enrolment_link"),
]
