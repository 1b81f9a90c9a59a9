from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts import services
from accounts.models import Team
from demo.seed import demo_data_create

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"


class Command(BaseCommand):
    help = "Creates the demo team and user (idempotent) and prints how to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default="", help="Base URL of the Qualtrics sandbox for a demo configuration.")

    def handle(self, *args, sandbox_url: str = "", **options):
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = User.objects.create_user(DEMO_USERNAME, "demo@example.com", DEMO_PASSWORD, is_staff=True, is_superuser=True)
        team = Team.objects.filter(memberships__user=user).first() or services.team_create(name="Demo team", owner=user)
        demo_data_create(team=team, user=user)
        self.stdout.write(self.style.SUCCESS(f"Sign in as '{DEMO_USERNAME}' with password '{DEMO_PASSWORD}'."))
