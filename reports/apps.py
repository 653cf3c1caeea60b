import logging

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        # WeasyPrint logs every parsing and layout step at INFO (some at import): a worker's log
        # needs only its warnings and errors.
        logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
