from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.configurations import configurations_rotate_key
from accounts.crypto import DecryptionError


class Command(BaseCommand):
    help = (
        "Re-encrypts the secret credentials of every configuration with the first key of FIELD_ENCRYPTION_KEY. "
        "Set FIELD_ENCRYPTION_KEY=new,old while rotating; drop the old key afterwards."
    )

    def handle(self, *args, **options):
        if len(settings.FIELD_ENCRYPTION_KEYS) < 2:
            self.stdout.write("Only one key is configured: nothing older to rotate from (checking all secrets).")
        try:
            changed, total = configurations_rotate_key()
        except DecryptionError as exc:
            raise CommandError(f"Rotation stopped, nothing was changed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the secrets of {changed} of {total} configurations with the current key."))
