import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baatracker.settings")

app = Celery("baatracker")
# Every CELERY_* setting in baatracker/settings.py, including the beat schedule.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
