from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """An ENT account; students carry their student number (SUPANN attribute supannEtuId)."""

    student_number = models.CharField("numéro étudiant", max_length=20, blank=True)
