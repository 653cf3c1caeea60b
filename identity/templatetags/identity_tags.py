from django import template

from identity.forms import SsoEmailForm
from identity.selectors import sign_in_buttons

register = template.Library()


@register.inclusion_tag("identity/_sso_sign_in.html", takes_context=True)
def sso_sign_in(context):
    """The single sign-on part of the sign-in page: an e-mail box and the providers' buttons."""
    return {
        "form": SsoEmailForm(),
        "buttons": sign_in_buttons(),
        "next": context.get("next", ""),
        "request": context.get("request"),
    }
