from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from premura.accounts import signin
from premura.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    # Everything under /login/ is open to a session that has not passed the two-factor step.
    path("login/", signin.SignInView.as_view(), name="login"),
    path("login/code/", signin.sign_in_code, name="login_code"),
    path("login/reset/", signin.PasswordResetRequestView.as_view(), name="password_reset"),
    path("login/reset/sent/", signin.PasswordResetSentView.as_view(), name="password_reset_done"),
    path(
        "login/reset/<uidb64>/<token>/",
        signin.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "login/reset/done/",
        signin.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.health, name="health"),
]
