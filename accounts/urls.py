from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.PortalLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/register/", views.register, name="register"),
    path("accounts/register/code/", views.register_code, name="register_code"),
    path("accounts/password-reset/", views.password_reset, name="password_reset"),
    path("accounts/password-reset/code/", views.password_reset_code, name="password_reset_code"),
    path("account/", views.account, name="account"),
    path("account/profile/", views.profile, name="profile"),
    path("account/statement/<int:year>/", views.yearly_statement, name="yearly_statement"),
    path("account/statement/<int:year>.pdf", views.yearly_statement_pdf, name="yearly_statement_pdf"),
    path("account/access-log/", views.access_log, name="access_log"),
    path("notices/", views.notices, name="notices"),
    path("notices/<int:pk>/", views.notice, name="notice"),
    path("notices/read-all/", views.read_all_notices, name="read_all_notices"),
    path("healthz", views.healthz, name="healthz"),
    path("preferences/text-size/", views.text_size, name="text_size"),
]
