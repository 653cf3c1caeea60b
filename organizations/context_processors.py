from organizations.selectors import active_membership


def membership(request):
    return {"membership": active_membership(getattr(request, "user", None))}
