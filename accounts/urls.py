from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("adresse-mail/", views.email_change, name="email_change"),
    path("adresse-mail/envoyee/", views.email_change_done, name="email_change_done"),
]
