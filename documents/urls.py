from django.urls import path

from documents import views

app_name = "documents"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("provisions/<int:pk>/decide/", views.provision_decide_view, name="provision_decide"),
    path("key-terms/<int:pk>/decide/", views.key_term_decide_view, name="key_term_decide"),
]
