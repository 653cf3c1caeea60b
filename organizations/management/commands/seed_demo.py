"""``manage.py seed_demo``: a demo imaging network with a case of every compliance rule.

The dataset is in organizations/demo.py. Idempotent: when the demo organization exists, nothing is
written. Refused in production (DEBUG=false) unless --force: demo users with a known password do not
belong in a production database.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from organizations import demo
from organizations.models import Organization, Role


class Command(BaseCommand):
    help = (
        f"Create the demo organization {demo.ORGANIZATION_NAME!r} with facilities, vendors, BAAs, checklists and "
        f"users, then run the compliance rules. Password from ${demo.PASSWORD_ENV} "
        f"(default {demo.DEFAULT_PASSWORD!r}). Does nothing if the organization exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even when DEBUG is false (production settings).")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed demo data with DEBUG=false (production settings): it creates users with a known "
                "password. Pass --force if this really is a demo or test database."
            )
        try:
            result = demo.seed_demo()
        except demo.DemoAlreadySeeded:
            organization = Organization.objects.get(name=demo.ORGANIZATION_NAME)
            self.stdout.write(
                f"The demo organization {organization.name!r} (id {organization.pk}) already exists: nothing created. "
                f"Run `manage.py check_compliance --organization {organization.pk}` to re-evaluate it."
            )
            return
        except demo.DemoUserConflict as exc:
            raise CommandError(
                f"User(s) {', '.join(exc.args[0])} already exist outside the demo organization; "
                "rename or remove them before seeding."
            ) from None
        except ValidationError as exc:
            raise CommandError(f"Demo data refused: {'; '.join(exc.messages)}") from None

        organization = result.organization
        self.stdout.write(self.style.SUCCESS(f"Created {organization.name!r} (id {organization.pk}):"))
        for what, n in result.counts.items():
            self.stdout.write(f"  {n:>3} {what}")
        self.stdout.write("")
        call_command("check_compliance", organization=organization.pk, stdout=self.stdout._out)
        self.stdout.write("")
        self.stdout.write("Sign in (password for every user: " + self._password_hint(result.password) + "):")
        for user in demo.USERS:
            self.stdout.write(f"  {user.username:<10} {Role(user.role).label:<20} {user.email:<50} {user.title}")
        self.stdout.write(
            f"The auditor's access ends after {demo.AUDITOR_ACCESS_DAYS} days; admin can also use /admin/."
        )

    @staticmethod
    def _password_hint(password: str) -> str:
        if password == demo.DEFAULT_PASSWORD:
            return repr(password)
        return f"the value of ${demo.PASSWORD_ENV}"
