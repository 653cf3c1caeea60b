from django.urls import path

from alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("<int:pk>/retry/", views.alert_retry_view, name="retry"),
    path("preferences/", views.preferences, name="preferences"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/vendor/<str:token>/", views.vendor_unsubscribe, name="vendor_unsubscribe"),
]
