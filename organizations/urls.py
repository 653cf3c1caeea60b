from django.urls import path

from organizations import views

app_name = "organizations"
urlpatterns = [
    path("members/", views.members, name="members"),
    path("members/new/", views.member_create, name="member_create"),
    path("members/<int:pk>/", views.member_update, name="member_update"),
    path("members/<int:pk>/active/", views.member_set_active, name="member_set_active"),
    path("activity/", views.activity, name="activity"),
    path("activity/export.<str:fmt>", views.activity_export, name="activity_export"),
    path("session/keepalive/", views.keepalive, name="keepalive"),
]
