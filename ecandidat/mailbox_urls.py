from django.urls import path

from ecandidat import mailbox

app_name = "mailbox"

urlpatterns = [
    path("", mailbox.mailbox, name="list"),
    path("<uuid:public_id>/", mailbox.mailbox_detail, name="detail"),
    path("<uuid:public_id>/pieces-jointes/<int:index>/", mailbox.mailbox_attachment, name="attachment"),
]
