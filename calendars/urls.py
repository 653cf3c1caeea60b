from django.urls import path

from calendars import views

app_name = "calendars"
urlpatterns = [
    path("", views.calendar_page, name="page"),
    path("revoke/", views.calendar_revoke, name="revoke"),
    path("feed/<str:secret>.ics", views.calendar_feed, name="feed"),
    path("agreements/<int:pk>.ics", views.agreement_ics, name="agreement"),
]
