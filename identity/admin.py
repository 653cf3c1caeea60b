"""No two-factor devices in the Django admin.

django-otp registers admin pages that show every user's TOTP key (as a QR code) and recovery codes to
any staff user with the model permission, across all organizations: anyone with them could clone
another person's second factor. Devices are managed only by their owner (Sign-in security) and reset by
an administrator of the same organization (Members page). The sign-in settings and log are in the app.
"""

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
